/** Step timings for the daemon's hot paths, written to its log when ROOST_TRACE=1. */
export function tracer(label: string): (step: string) => void {
  if (process.env.ROOST_TRACE !== '1') return () => {};
  const start = process.hrtime.bigint();
  let last = start;
  return (step) => {
    const now = process.hrtime.bigint();
    process.stderr.write(`trace ${label} ${step} +${(Number(now - last) / 1e6).toFixed(1)}ms (${(Number(now - start) / 1e6).toFixed(1)}ms)\n`);
    last = now;
  };
}
