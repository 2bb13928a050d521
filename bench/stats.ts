// Summaries of repeated measurements: min, median and max (no mean: one stalled run on a loaded
// machine would drag it), rounded to what the measurement can tell.

/** The spread of a set of values. */
export interface Summary {
  readonly min: number
  readonly median: number
  readonly max: number
}

/** `value` rounded to `digits` significant digits (3 by default: timings do not carry more). */
export function significant(value: number, digits = 3): number {
  if (value === 0 || !Number.isFinite(value)) return value
  return Number(value.toPrecision(digits))
}

/** The median of `values` (the mean of the two middle ones for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length / 2
  if (sorted.length === 0) return NaN
  return sorted.length % 2 === 1
    ? (sorted[Math.floor(middle)] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}

/** Min, median and max of `values`, each to 3 significant digits. */
export function summarize(values: readonly number[]): Summary {
  return {
    min: significant(Math.min(...values)),
    median: significant(median(values)),
    max: significant(Math.max(...values)),
  }
}
