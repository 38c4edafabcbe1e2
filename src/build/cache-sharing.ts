/**
 * RUN --mount=type=cache,sharing=…, across every build the engine runs at once. `shared` (the default):
 * any number of steps use the directory together. `locked`: one step at a time, the others wait their turn
 * (`lockCaches`). `private`: a step that finds the directory in use gets a fresh one of its own for the
 * step (`cacheInUse` tells; `useCache` counts the users).
 */
const users = new Map<string, number>();
const queues = new Map<string, Promise<void>>();

/** Counts a step as a user of `dir` until the returned function is called. */
export function useCache(dir: string): () => void {
  users.set(dir, (users.get(dir) ?? 0) + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const left = (users.get(dir) ?? 1) - 1;
    if (left > 0) users.set(dir, left);
    else users.delete(dir);
  };
}

export function cacheInUse(dir: string): boolean {
  return (users.get(dir) ?? 0) > 0;
}

/**
 * Waits until no other step holds any of `dirs`, then holds them all until the returned function is called.
 * Taken in one order (sorted), so two steps locking the same caches cannot wait for each other.
 */
export async function lockCaches(dirs: string[]): Promise<() => void> {
  const releases: Array<() => void> = [];
  for (const dir of [...new Set(dirs)].sort()) {
    const previous = queues.get(dir) ?? Promise.resolve();
    let release!: () => void;
    const held = new Promise<void>((resolve) => { release = resolve; });
    const tail = previous.then(() => held);
    queues.set(dir, tail);
    await previous;
    releases.push(() => {
      release();
      if (queues.get(dir) === tail) queues.delete(dir);
    });
  }
  return () => { for (const release of releases.reverse()) release(); };
}
