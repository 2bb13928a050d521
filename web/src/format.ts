// How the console writes sizes, durations, rates and times: the CLI's units (src/tasks/format.ts)
// plus relative times ("3 min ago") that a dashboard reads faster than dates.
import { formatBytes, formatDuration } from '../../src/tasks/format.ts'

export { formatBytes, formatDuration }

/** A rate in bytes per second as `12.50 MiB/s`; empty for nothing measurable. */
export function formatRate(bytesPerSec: number | undefined): string {
  if (bytesPerSec === undefined || !Number.isFinite(bytesPerSec) || bytesPerSec <= 0) return ''
  return `${formatBytes(Math.round(bytesPerSec))}/s`
}

/** `done/total` as a whole percent clamped to 0..100 (99 until done really reaches total). */
export function percent(done: number, total: number): number {
  if (!(total > 0)) return 0
  const value = Math.floor((done / total) * 100)
  return Math.max(0, Math.min(done >= total ? 100 : 99, value))
}

const UNITS: readonly (readonly [Intl.RelativeTimeFormatUnit, number])[] = [
  ['day', 86_400_000],
  ['hour', 3_600_000],
  ['minute', 60_000],
  ['second', 1000],
]

/** `at` relative to `nowMs` in English: `just now`, `5 min ago`, `in 2 hr`, `3 days ago`. */
export function formatRelative(at: number, nowMs: number): string {
  const diff = at - nowMs
  const abs = Math.abs(diff)
  if (abs < 10_000) return 'just now'
  const rtf = new Intl.RelativeTimeFormat('en', { numeric: 'auto', style: 'short' })
  for (const [unit, ms] of UNITS) {
    if (abs >= ms || unit === 'second') return rtf.format(Math.trunc(diff / ms), unit)
  }
  return 'just now'
}

/** A date and time in the browser's locale and zone, short (`Jun 3, 14:05:09`, year when not this one). */
export function formatDateTime(at: number, nowMs: number): string {
  const date = new Date(at)
  const sameYear = date.getFullYear() === new Date(nowMs).getFullYear()
  return date.toLocaleString(undefined, {
    ...(sameYear ? {} : { year: 'numeric' }),
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  })
}

/** The run's or task's duration so far: end − start, or now − start while it runs. */
export function elapsed(start: number, end: number | null | undefined, nowMs: number): number {
  return Math.max(0, (end ?? nowMs) - start)
}

/** `count` and `noun`, plural unless one: `1 backup`, `3 backups`. */
export function plural(count: number, noun: string): string {
  return `${count} ${count === 1 ? noun : `${noun}s`}`
}

/** The first 8 characters of a uuid, enough to tell records apart on screen. */
export function shortId(id: string): string {
  return id.length > 8 ? id.slice(0, 8) : id
}
