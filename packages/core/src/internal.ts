// The internals that taskpool's own apps (apps/producer, apps/worker) use and users should not: the storage
// layer's reads and layouts. Not a public API; it changes without notice.
export { bucketOf, DURATION_BOUNDS_MS, quantileOf } from './store/durationBuckets.ts';
export { readLastHour, type HourStats, type MinuteStats } from './store/minuteStats.ts';
export { minuteStatsKey } from './store/minuteStats.ts';
export { syncJobCounts, type CountedJob } from './store/taskCounts.ts';
