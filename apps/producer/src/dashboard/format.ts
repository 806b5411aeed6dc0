/** Formatting shared by the dashboard's fragments. */

/** `850 ms`, `2.4 s`, `3.1 min`; `–` when unknown. */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined) return '–';
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${(ms / 60_000).toFixed(1)} min`;
}

/** How long ago, from `now`: `3 s ago`, `5 min ago`. */
export function formatAgo(at: number, now: number): string {
  const seconds = Math.max(0, Math.round((now - at) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}

/** A UTC time, `2025-01-02 14:03:12`; `–` when unknown. */
export function formatTime(at: number | undefined): string {
  if (at === undefined) return '–';
  return new Date(at).toISOString().replace('T', ' ').slice(0, 19);
}

/** Bytes as B, KiB, MiB or GiB, one decimal above bytes. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}
