// Sizes and ages as Docker's CLI prints them; the CLI and the dashboard share these.

export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) { value /= 1000; unit++; }
  return `${unit === 0 ? value : value.toPrecision(3)}${units[unit]}`;
}

/** "5 minutes ago" for a Unix time in seconds ("N/A" for 0). */
export function timeAgo(seconds: number, nowMs = Date.now()): string {
  if (seconds === 0) return 'N/A';
  const delta = nowMs / 1000 - seconds;
  if (delta < 60) return 'Less than a minute ago';
  if (delta < 3600) return `${Math.round(delta / 60)} minutes ago`;
  if (delta < 172800) return `${Math.round(delta / 3600)} hours ago`;
  if (delta < 86400 * 60) return `${Math.round(delta / 86400)} days ago`;
  return `${Math.round(delta / 86400 / 30)} months ago`;
}
