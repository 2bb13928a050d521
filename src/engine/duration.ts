// Durations in settings (timeout, vmTimeout, healthCheckTimeout, getRemoteTimeout): a number of
// milliseconds, as XO stores them, or a string such as '10m', '2 hours', '1.5h' (XO parses
// healthCheckTimeout with the `ms` package; the same units are accepted here, years excepted).
import type { FieldPath } from './run-description-error.ts'
import { invalidField } from './run-description-error.ts'

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  msec: 1,
  msecs: 1,
  millisecond: 1,
  milliseconds: 1,
  s: 1000,
  sec: 1000,
  secs: 1000,
  second: 1000,
  seconds: 1000,
  m: 60_000,
  min: 60_000,
  mins: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hr: 3_600_000,
  hrs: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000,
  w: 604_800_000,
  week: 604_800_000,
  weeks: 604_800_000,
}

/**
 * Largest duration: Node's timers hold 2^31-1 ms (~24.8 days); a longer delay fires after 1 ms,
 * so an enforced `timeout` of 30 days would abort at once. Longer values are refused instead.
 */
export const MAX_DURATION_MS = 2 ** 31 - 1

const DURATION = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i
const EXPECTED = "a duration: milliseconds (a number) or a string like '90s', '10m', '2h', '1d'"

/** `value` (ms number or duration string) in milliseconds, integer, 0..MAX_DURATION_MS. */
export function parseDuration(value: unknown, path: FieldPath): number {
  let ms: number | undefined
  if (typeof value === 'number') ms = value
  else if (typeof value === 'string') {
    const match = DURATION.exec(value)
    const factor = match === null ? undefined : UNIT_MS[(match[2] ?? '').toLowerCase() || 'ms']
    if (match !== null && factor !== undefined) ms = Number(match[1]) * factor
  }
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) throw invalidField(path, EXPECTED, value)
  if (ms > MAX_DURATION_MS) throw invalidField(path, `${EXPECTED}, at most 24 days`, value)
  return Math.round(ms)
}

/** A duration for people: `0`, `1500 ms`, `90 s`, `10 min`, `2 h`, `1 d 6 h`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0'
  if (ms < 1000 || ms % 1000 !== 0) return `${ms} ms`
  const parts: string[] = []
  let rest = ms / 1000
  for (const [unit, seconds] of [
    ['d', 86_400],
    ['h', 3_600],
    ['min', 60],
    ['s', 1],
  ] as const) {
    const n = Math.floor(rest / seconds)
    if (n > 0) parts.push(`${n} ${unit}`)
    rest -= n * seconds
  }
  return parts.join(' ')
}
