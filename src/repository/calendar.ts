import { RepositoryError } from './repository-error.ts'

/** Wall-clock fields of an instant in a timezone. */
export interface WallTime {
  readonly year: number
  readonly month: number // 1-12
  readonly day: number
  readonly hour: number
}

const formatters = new Map<string, Intl.DateTimeFormat>()

function formatterFor(timezone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timezone)
  if (formatter === undefined) {
    try {
      formatter = new Intl.DateTimeFormat('en-US', {
        timeZone: timezone,
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        hourCycle: 'h23',
      })
    } catch {
      throw new RepositoryError('RETENTION_INVALID', `unknown timezone ${JSON.stringify(timezone)}`)
    }
    formatters.set(timezone, formatter)
  }
  return formatter
}

/** The wall-clock year, month, day and hour of `ms` in `timezone` (IANA name, e.g. Europe/Paris). */
export function wallTime(ms: number, timezone: string): WallTime {
  const parts: Record<string, number> = {}
  for (const part of formatterFor(timezone).formatToParts(ms)) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value)
  }
  return { year: parts.year ?? 0, month: parts.month ?? 0, day: parts.day ?? 0, hour: parts.hour ?? 0 }
}

/**
 * A wall time as a "calendar day number" (days since 1970-01-01 of that wall date) after moving it
 * back by `hours`: calendar arithmetic, independent of DST, as the shifted bucket rules need.
 */
export function calendarDay(wall: WallTime, shiftHours = 0): number {
  return Math.floor(
    (Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour) - shiftHours * 3_600_000) / 86_400_000,
  )
}

/** The UTC date fields of a calendar day number. */
export function dayFields(day: number): { year: number; month: number; day: number; weekday: number } {
  const d = new Date(day * 86_400_000)
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), weekday: d.getUTCDay() }
}
