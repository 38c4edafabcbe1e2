/**
 * Runs an action per named object (`rm a b c`). One name: its error is the command's error. Several: each
 * failure is reported on its own line, the others still run, and the exit status is 1 (Docker's way).
 */
export async function forEachName(names: string[], action: (name: string) => Promise<void>): Promise<number> {
  if (names.length === 1) {
    await action(names[0]!);
    return 0;
  }
  let failed = false;
  for (const name of names) {
    try {
      await action(name);
    } catch (err) {
      failed = true;
      process.stderr.write(`roost: ${(err as Error).message}\n`);
    }
  }
  return failed ? 1 : 0;
}
