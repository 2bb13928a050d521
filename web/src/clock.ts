// The console's one reader of the wall clock (architecture.md §8: time comes from one place), for
// relative times and the live durations of running tasks.

/** Milliseconds since the epoch, now. */
export function now(): number {
  // eslint-disable-next-line no-restricted-syntax -- this module is the console's clock
  return Date.now()
}
