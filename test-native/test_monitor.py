#!/usr/bin/env python3
"""Integration test for native/roost-monitor, driving real runc rootless.

Usage: python3 test-native/test_monitor.py [-v] [-k NAME]

Runs as any user:
  * real root: re-runs itself as $ROOST_TEST_USER (default "roosttest"), which
    needs a subuid/subgid range;
  * unprivileged: creates a user+mount namespace (unshare + newuidmap), maps
    itself to uid 0 plus its subordinate range, and re-runs itself inside;
  * inside (uid 0 of a user namespace): runs the tests.
It builds the monitor first (make -C native) unless ROOST_MONITOR points at
a binary.  Needs runc (or $RUNC) and a static-ish busybox.  Every process it
starts is killed and every container deleted before it exits; the exit status
is 0 only if all tests passed (77 if runc or busybox is missing).
"""
import fcntl
import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
MONITOR = os.environ.get("ROOST_MONITOR") or os.path.join(REPO, "native", "build", "roost-monitor")
RUNC = os.environ.get("RUNC") or shutil.which("runc") or "/usr/sbin/runc"
BUSYBOX = shutil.which("busybox") or "/bin/busybox"
TIMEOUT = 20.0
VERBOSE = "-v" in sys.argv

F_STDIN, F_STDOUT, F_STDERR, F_EXIT, F_CLOSE_STDIN, F_RESIZE = range(6)
TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z"


def log(*a):
    if VERBOSE:
        print("   ", *a, flush=True)


# --------------------------------------------------------------------------
# outer layers: become uid 0 in a user namespace
# --------------------------------------------------------------------------

def in_userns_as_root():
    if os.geteuid() != 0:
        return False
    with open("/proc/self/uid_map") as f:
        return f.read().split() != ["0", "0", "4294967295"]


def subid_range(path, user, uid):
    with open(path) as f:
        for line in f:
            parts = line.strip().split(":")
            if len(parts) == 3 and parts[0] in (user, str(uid)):
                return parts[1], parts[2]
    raise SystemExit(f"no entry for {user} in {path}")


def run_in_userns():
    import pwd
    uid, gid = os.getuid(), os.getgid()
    user = pwd.getpwuid(uid).pw_name
    su, sn = subid_range("/etc/subuid", user, uid)
    sg, gn = subid_range("/etc/subgid", user, uid)
    holder = subprocess.Popen(["unshare", "--user", "--mount", "--propagation", "private", "--", "sleep", "3600"])
    try:
        own = os.readlink("/proc/self/ns/user")
        deadline = time.time() + 10
        while os.readlink(f"/proc/{holder.pid}/ns/user") == own:
            if time.time() > deadline:
                raise SystemExit("unshare did not create a user namespace")
            time.sleep(0.02)
        subprocess.run(["newuidmap", str(holder.pid), "0", str(uid), "1", "1", su, sn], check=True)
        subprocess.run(["newgidmap", str(holder.pid), "0", str(gid), "1", "1", sg, gn], check=True)
        env = dict(os.environ, ROOST_MONITOR=MONITOR)
        r = subprocess.run(["nsenter", "-t", str(holder.pid), "-U", "-m", "--", sys.executable,
                            os.path.abspath(__file__)] + sys.argv[1:], env=env)
        return r.returncode
    finally:
        holder.kill()
        holder.wait()


def outer():
    for tool in (RUNC, BUSYBOX):
        if not os.access(tool, os.X_OK):
            print(f"SKIP: {tool} not found")
            return 77  # the usual "skipped" exit status of test harnesses
    if not os.environ.get("ROOST_MONITOR"):
        subprocess.run(["make", "-s", "-C", os.path.join(REPO, "native")], check=True)
    if in_userns_as_root():
        return inner()
    if os.geteuid() == 0:
        user = os.environ.get("ROOST_TEST_USER", "roosttest")
        env = ["env", f"ROOST_MONITOR={MONITOR}", f"RUNC={RUNC}", "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"]
        # root's interpreter may live somewhere the test user cannot read
        py = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin") or sys.executable
        return subprocess.run(["runuser", "-u", user, "--"] + env +
                              [py, os.path.abspath(__file__)] + sys.argv[1:]).returncode
    return run_in_userns()


# --------------------------------------------------------------------------
# helpers used inside the namespace
# --------------------------------------------------------------------------

class Env:
    work = None
    rootfs = None
    state = None
    base_spec = None
    monitors = []


def make_rootfs():
    rootfs = os.path.join(Env.work, "rootfs")
    for d in ("bin", "proc", "dev", "sys", "tmp", "etc"):
        os.makedirs(os.path.join(rootfs, d), exist_ok=True)
    shutil.copy(BUSYBOX, os.path.join(rootfs, "bin", "busybox"))
    for applet in ("sh", "echo", "cat", "sleep", "tty", "stty", "printf", "seq", "true", "id", "ls"):
        os.symlink("busybox", os.path.join(rootfs, "bin", applet))
    Env.rootfs = rootfs
    subprocess.run([RUNC, "spec"], cwd=Env.work, check=True)
    with open(os.path.join(Env.work, "config.json")) as f:
        spec = json.load(f)
    spec["root"] = {"path": rootfs, "readonly": False}
    # No network namespace: sysfs cannot be mounted without one owned by our
    # user namespace, and we do not need networking anyway.
    spec["linux"]["namespaces"] = [n for n in spec["linux"]["namespaces"] if n["type"] != "network"]
    for m in spec["mounts"]:
        if m["destination"] == "/sys":
            m.update(type="none", source="/sys", options=["rbind", "nosuid", "noexec", "nodev", "ro"])
    Env.base_spec = spec


def make_bundle(d, args, tty):
    spec = json.loads(json.dumps(Env.base_spec))
    spec["process"]["args"] = args
    spec["process"]["terminal"] = tty
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(spec, f)


def wait_for(cond, what, timeout=TIMEOUT):
    deadline = time.time() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def high(fd):
    """Move fd above the 0-4 range so posix_spawn dup2s cannot collide."""
    h = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 20)
    os.close(fd)
    return h


class Monitor:
    """One roost-monitor process plus its status/start pipes."""

    def __init__(self, name, args=None, tty=False, stdin=False, exec_of=None, log=True):
        self.dir = os.path.join(Env.work, name)
        os.makedirs(self.dir)
        self.id = exec_of.id if exec_of else name
        self.bundle = exec_of.bundle if exec_of else self.dir
        self.sock = os.path.join(self.dir, "attach.sock")
        self.exit_file = os.path.join(self.dir, "exit")
        self.log = os.path.join(self.dir, "ctr.log") if log else None
        argv = [MONITOR, "--id", self.id, "--bundle", self.bundle, "--runtime", RUNC,
                "--runtime-root", Env.state, "--socket", self.sock, "--exit-file", self.exit_file,
                "--pid-file", os.path.join(self.dir, "pid")]
        if log:
            argv += ["--log", self.log]
        if tty:
            argv.append("--tty")
        if stdin:
            argv.append("--stdin")
        if exec_of:
            proc = {"terminal": tty, "user": {"uid": 0, "gid": 0}, "args": args, "cwd": "/",
                    "env": ["PATH=/bin", "TERM=xterm"]}
            pj = os.path.join(self.dir, "process.json")
            with open(pj, "w") as f:
                json.dump(proc, f)
            argv += ["--exec", pj]
        else:
            make_bundle(self.dir, args, tty)
        sr, sw = map(high, os.pipe())
        self.status_fd = sr
        self.start_fd = None
        dbg = high(os.open(os.path.join(self.dir, "debug.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
        acts = [(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, dbg, 1), (os.POSIX_SPAWN_DUP2, dbg, 2),
                (os.POSIX_SPAWN_DUP2, sw, 3)]
        if not exec_of:
            qr, self.start_fd = map(high, os.pipe())
            acts.append((os.POSIX_SPAWN_DUP2, qr, 4))
        self.pid = os.posix_spawn(MONITOR, argv, os.environ, file_actions=acts)
        Env.monitors.append(self)
        self.rc = None
        for fd in (sw, dbg) + ((qr,) if not exec_of else ()):
            os.close(fd)
        self.status_buf = b""

    def status(self):
        """Next line from the status pipe ('' on EOF)."""
        deadline = time.time() + TIMEOUT
        while b"\n" not in self.status_buf:
            left = deadline - time.time()
            if left <= 0 or not select.select([self.status_fd], [], [], left)[0]:
                raise AssertionError("timed out waiting for a status line")
            chunk = os.read(self.status_fd, 4096)
            if not chunk:
                line, self.status_buf = self.status_buf, b""
                return line.decode()
            self.status_buf += chunk
        line, self.status_buf = self.status_buf.split(b"\n", 1)
        log("status:", line.decode())
        return line.decode()

    def start(self):
        os.write(self.start_fd, b"s")

    def abort(self):
        os.close(self.start_fd)
        self.start_fd = None

    def wait(self):
        def done():
            pid, st = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.rc = os.waitstatus_to_exitcode(st)
            return pid != 0
        if self.rc is None:
            wait_for(done, f"monitor {self.id} to exit")
        return self.rc

    def exit_code(self):
        with open(self.exit_file) as f:
            return f.read()

    def log_lines(self):
        with open(self.log) as f:
            return f.read().splitlines()

    def debug(self):
        with open(os.path.join(self.dir, "debug.log")) as f:
            return f.read()

    def close(self):
        for fd in (self.status_fd, self.start_fd):
            if fd is not None:
                os.close(fd)
        self.status_fd = self.start_fd = None
        if self.rc is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(self.pid, 0)
            self.rc = -9


class Client:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(TIMEOUT)
        self.s.connect(path)
        self.buf = b""

    def send(self, t, payload=b""):
        self.s.sendall(struct.pack(">BI", t, len(payload)) + payload)

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                return False
            self.buf += chunk
        return True

    def frame(self):
        if not self._need(5):
            return None
        t, n = struct.unpack(">BI", self.buf[:5])
        if not self._need(5 + n):
            raise AssertionError("truncated frame")
        payload, self.buf = self.buf[5:5 + n], self.buf[5 + n:]
        return t, payload

    def collect(self):
        """Read frames until the exit frame: (stdout, stderr, exit code)."""
        out, err = b"", b""
        while True:
            f = self.frame()
            if f is None:
                raise AssertionError(f"connection closed without exit frame; stdout={short(out)} stderr={short(err)}")
            t, p = f
            if t == F_STDOUT:
                out += p
            elif t == F_STDERR:
                err += p
            elif t == F_EXIT:
                self.s.close()
                return out, err, int(p)
            else:
                raise AssertionError(f"unexpected frame type {t}")


def short(b, n=200):
    """repr() of at most n bytes, so a failure does not print megabytes."""
    return repr(b[:n]) + (f"... ({len(b)} bytes)" if len(b) > n else "")


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def started_container(m):
    st = m.status()
    expect(re.fullmatch(r"created \d+", st), f"expected 'created <pid>', got {st!r}")
    return int(st.split()[1])


def finish(m, code):
    expect(m.wait() == 0, f"monitor exited {m.rc}")
    expect(m.exit_code() == f"{code}\n", f"exit file {m.exit_code()!r}, want {code}")
    expect(not os.path.exists(m.sock), "attach socket not removed")
    expect(not os.path.exists(m.exit_file + ".tmp"), "exit tmp file left over")


# --------------------------------------------------------------------------
# tests
# --------------------------------------------------------------------------

def test_echo_log_and_clients():
    m = Monitor("echo", ["sh", "-c", "echo hello; echo oops >&2; printf part"])
    pid = started_container(m)
    clients = [Client(m.sock), Client(m.sock)]  # attached before start
    m.start()
    expect(m.status() == f"started {pid}", "started pid differs from created pid")
    expect(m.status() == "", "status pipe not closed after started")
    for c in clients:
        out, err, code = c.collect()
        expect(out == b"hello\npart", f"stdout {short(out)}")
        expect(err == b"oops\n", f"stderr {short(err)}")
        expect(code == 0, f"exit frame {code}")
    finish(m, 0)
    lines = m.log_lines()
    log(*lines)
    expect(len(lines) == 3, f"log lines {lines}")
    got = sorted(lines, key=lambda l: l.split(" ", 1)[1])
    expect(re.fullmatch(TS + r" stderr F oops", got[0]), f"bad log line {got[0]!r}")
    expect(re.fullmatch(TS + r" stdout F hello", got[1]), f"bad log line {got[1]!r}")
    expect(re.fullmatch(TS + r" stdout P part", got[2]), f"bad log line {got[2]!r}")


def test_exit_code_without_daemon():
    m = Monitor("exit3", ["sh", "-c", "sleep 0.5; exit 3"], log=False)
    started_container(m)
    m.start()
    m.status()
    # the daemon "dies": both pipes close; the monitor must not care
    os.close(m.status_fd)
    os.close(m.start_fd)
    m.status_fd = m.start_fd = None
    c = Client(m.sock)  # a restarted daemon re-attaches
    expect(c.collect()[2] == 3, "exit frame not 3")
    finish(m, 3)


def test_stdin():
    m = Monitor("stdin", ["cat"], stdin=True)
    started_container(m)
    c = Client(m.sock)
    c.send(F_STDIN, b"before start\n")  # buffered in the pipe until cat runs
    m.start()
    m.status()
    c.s.sendall(struct.pack(">BI", F_STDIN, 5) + b"pi")  # payload split across writes
    time.sleep(0.05)
    c.s.sendall(b"ng\n")
    c.send(F_RESIZE, b"10 10")  # no tty: ignored
    c.send(F_CLOSE_STDIN)
    out, err, code = c.collect()
    expect(out == b"before start\nping\n", f"stdout {short(out)}")
    expect(code == 0, f"exit {code}")
    finish(m, 0)


def test_tty():
    m = Monitor("tty", ["sh", "-c", "tty; stty size; echo hi"], tty=True)
    started_container(m)
    c = Client(m.sock)
    c.send(F_RESIZE, b"30 100")
    time.sleep(0.1)  # the resize must be applied before the shell runs
    m.start()
    m.status()
    out, err, code = c.collect()
    log(repr(out))
    expect(re.fullmatch(rb"/dev/pts/\d+\r\n30 100\r\nhi\r\n", out), f"tty output {short(out)}")
    expect(err == b"", f"stderr {short(err)}")
    finish(m, 0)
    lines = m.log_lines()
    expect(len(lines) == 3 and all(re.match(TS + " stdout F ", l) for l in lines), f"log {lines}")
    expect(not os.path.exists(m.sock + ".console"), "console socket left over")


def test_tty_stdin_and_resize():
    m = Monitor("ttyin", ["sh", "-c", "read x; stty size; echo got $x"], tty=True, stdin=True)
    started_container(m)
    c = Client(m.sock)
    m.start()
    m.status()
    c.send(F_RESIZE, b"40 120")  # after start: applied to the live pty
    c.send(F_STDIN, b"abc\n")
    out, err, code = c.collect()
    expect(b"40 120\r\ngot abc" in out, f"tty output {short(out)}")
    finish(m, 0)


def test_stdin_bulk():
    """1 MiB through cat: stdin backs up (the queue and back pressure path)."""
    m = Monitor("bulk", ["cat"], stdin=True, log=False)
    started_container(m)
    c = Client(m.sock)
    m.start()
    m.status()
    data = bytes(i % 251 for i in range(1 << 20))

    def feed():
        for i in range(0, len(data), 65536):
            c.send(F_STDIN, data[i:i + 65536])
        c.send(F_CLOSE_STDIN)
    t = threading.Thread(target=feed)
    t.start()
    out, err, code = c.collect()
    t.join()
    expect(out == data, f"got {len(out)} bytes back, want {len(data)} (equal: {out == data[:len(out)]})")
    finish(m, 0)


def test_exec_and_signal():
    ctr = Monitor("sleeper", ["sleep", "1000"])
    started_container(ctr)
    ctr.start()
    ctr.status()
    c = Client(ctr.sock)
    rss = None
    with open(f"/proc/{ctr.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                rss = line.split(":")[1].strip()
    print(f"    idle monitor VmRSS: {rss}")

    e = Monitor("exec1", ["echo", "x"], exec_of=ctr)
    st = e.status()
    expect(re.fullmatch(r"started \d+", st), f"exec status {st!r}")
    finish(e, 0)
    lines = e.log_lines()
    expect(len(lines) == 1 and re.fullmatch(TS + " stdout F x", lines[0]), f"exec log {lines}")

    e = Monitor("exec2", ["sh", "-c", "echo y >&2; exit 5"], exec_of=ctr)
    e.status()
    finish(e, 5)
    expect(re.fullmatch(TS + " stderr F y", e.log_lines()[0]), f"exec log {e.log_lines()}")

    e = Monitor("exec3", ["sh", "-c", "sleep 0.3; tty"], exec_of=ctr, tty=True)
    e.status()
    ec = Client(e.sock)
    out, _, code = ec.collect()
    expect(re.fullmatch(rb"/dev/pts/\d+\r\n", out) and code == 0, f"exec tty output {short(out)} code {code}")
    finish(e, 0)
    expect(not os.path.exists(e.sock + ".console"), "exec console socket left over")

    e = Monitor("exec-stdin", ["cat"], exec_of=ctr, stdin=True)
    e.status()
    ec = Client(e.sock)
    ec.send(F_STDIN, b"via exec\n")
    ec.send(F_CLOSE_STDIN)
    out, _, code = ec.collect()
    expect(out == b"via exec\n" and code == 0, f"exec stdin output {short(out)} code {code}")
    finish(e, 0)

    e = Monitor("exec4", ["/nonexistent"], exec_of=ctr)
    st = e.status()
    log(st)
    expect(st.startswith("error ") and "/nonexistent" in st, f"exec error status {st!r}")
    expect(e.wait() == 1, f"monitor exit {e.rc}")

    subprocess.run([RUNC, "--root", Env.state, "kill", ctr.id, "KILL"], check=True)
    out, err, code = c.collect()
    expect(code == 137, f"exit frame {code}")
    finish(ctr, 137)


def test_create_failure():
    m = Monitor("badexe", ["/nonexistent"])
    st = m.status()
    log(st)
    expect(st.startswith("error ") and "/nonexistent" in st and "\n" not in st, f"status {st!r}")
    expect(len(st) < 1100, "error message too long")
    expect(m.wait() == 1, f"monitor exit {m.rc}")
    expect(not os.path.exists(m.sock), "socket left over")
    expect(not os.path.exists(m.log) or os.path.getsize(m.log) == 0, "runtime output leaked into the log")


def test_start_abort():
    m = Monitor("abort", ["true"])
    started_container(m)
    m.abort()  # EOF on the start pipe: the daemon went away
    expect(m.wait() == 1, f"monitor exit {m.rc}")
    r = subprocess.run([RUNC, "--root", Env.state, "state", m.id], capture_output=True)
    expect(r.returncode != 0, "container not deleted after abort")


def test_big_output_and_slow_client():
    m = Monitor("big", ["seq", "1", "200000"])
    started_container(m)
    good, slow = Client(m.sock), Client(m.sock)  # slow never reads: must be dropped, not block
    m.start()
    m.status()
    out, _, code = good.collect()
    expect(out.count(b"\n") == 200000 and out.endswith(b"\n200000\n"), "client got %d lines" % out.count(b"\n"))
    finish(m, 0)
    lines = m.log_lines()
    text = "".join(l.split(" ", 3)[3] + ("\n" if l.split(" ", 3)[2] == "F" else "") for l in lines)
    expect(text == out.decode(), "log does not reassemble to the output")
    expect("dropping" in m.debug(), "slow client was not dropped")


def test_bad_args():
    r = subprocess.run([MONITOR, "--id", "x"], capture_output=True)
    expect(r.returncode == 2 and r.stderr, f"missing args: rc {r.returncode}")
    r = subprocess.run([MONITOR, "--bogus"], capture_output=True)
    expect(r.returncode == 2, f"unknown arg: rc {r.returncode}")


TESTS = [test_bad_args, test_echo_log_and_clients, test_exit_code_without_daemon, test_stdin, test_tty, test_tty_stdin_and_resize, test_stdin_bulk,
         test_exec_and_signal, test_create_failure, test_start_abort, test_big_output_and_slow_client]


def inner():
    Env.work = tempfile.mkdtemp(prefix="roost-monitor-test-")
    Env.state = os.path.join(Env.work, "runc-state")
    only = sys.argv[sys.argv.index("-k") + 1] if "-k" in sys.argv else None
    failed = 0
    try:
        make_rootfs()
        for t in TESTS:
            if only and only not in t.__name__:
                continue
            try:
                t()
                print(f"ok   {t.__name__}", flush=True)
            except Exception:
                failed += 1
                print(f"FAIL {t.__name__}", flush=True)
                traceback.print_exc()
                for m in Env.monitors[-3:]:
                    print(f"    debug log of {m.dir}:\n{m.debug()}")
    finally:
        for m in Env.monitors:
            m.close()
        if os.path.isdir(Env.state):
            ids = subprocess.run([RUNC, "--root", Env.state, "list", "-q"], capture_output=True, text=True).stdout
            for cid in ids.split():
                subprocess.run([RUNC, "--root", Env.state, "delete", "-f", cid], capture_output=True)
        shutil.rmtree(Env.work, ignore_errors=True)
    print("PASS" if not failed else f"{failed} test(s) FAILED", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(outer())
