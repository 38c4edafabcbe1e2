// Run as a second unprivileged user: it must neither connect to another user's socket nor read their store.
// usage: node other-user-check.mjs SOCKET STORE_DIR   (exit 0 when both are refused)
import fs from 'node:fs';
import net from 'node:net';

const [socketPath, storeDir] = process.argv.slice(2);
// The caller (root) has checked that the socket and the store exist; here even stat may be refused.
const connected = await new Promise((resolve) => {
  const socket = net.createConnection(socketPath);
  socket.once('connect', () => { socket.destroy(); resolve(true); });
  socket.once('error', (err) => { console.error(`# connect refused: ${err.code}`); resolve(false); });
});
let readable = true;
try {
  fs.readdirSync(storeDir);
} catch (err) {
  console.error(`# store refused: ${err.code}`);
  readable = false;
}
process.exit(!connected && !readable ? 0 : 1);
