/**
 * The V8 old-space limit a sandbox process starts with under a memory cap of `capMb`: twice the cap, and
 * at least 64 MiB above it. The cap itself is enforced on the process's RSS, which the supervisor samples
 * every 50 ms while a task runs and which is never below the heap's size: a heap that grows to the cap
 * crosses it in RSS first and the process is SIGKILLed at once. With V8's limit at the cap, V8 could reach
 * its own limit first and spend seconds to a minute in back-to-back garbage collections before it aborts.
 */
export function sandboxHeapLimitMb(capMb: number): number {
  return Math.max(capMb * 2, capMb + 64);
}
