import { calendarDay, dayFields, wallTime } from './calendar.ts'
import { RepositoryError } from './repository-error.ts'

/** Something retention can keep or delete: a backup, a replica, a snapshot. */
export interface RetentionEntry {
  readonly id: string
  readonly timestamp: number
}

/** The long-term retention periods (XO's `longTermRetention` setting). */
export type RetentionPeriod = 'daily' | 'weekly' | 'monthly' | 'yearly'

/** One period's rule: keep one entry for each of the last `retention` periods that have one. */
export interface PeriodRule {
  readonly retention: number
  /** Where a period starts: firstHourOfTheDay (0–23), firstDayOfWeek (0 = Sunday), firstDayOfMonth (1–28), firstDayOfYear (day of year, 1–365). */
  readonly settings?: {
    readonly firstHourOfTheDay?: number
    readonly firstDayOfWeek?: number
    readonly firstDayOfMonth?: number
    readonly firstDayOfYear?: number
  }
}

/** Retention settings: the newest `minCount` entries, plus long-term buckets in `timezone`. */
export interface RetentionPolicy {
  readonly minCount: number
  readonly longTermRetention?: Partial<Record<RetentionPeriod, PeriodRule>>
  /** IANA timezone the periods are counted in; required with longTermRetention. */
  readonly timezone?: string
}

/** The plan: what to keep (with every reason) and what to delete, each in input order. */
export interface RetentionPlan<E extends RetentionEntry> {
  readonly keep: readonly { readonly entry: E; readonly reasons: readonly string[] }[]
  readonly delete: readonly E[]
}

const PERIODS: readonly RetentionPeriod[] = ['daily', 'weekly', 'monthly', 'yearly']

const invalid = (message: string): RepositoryError => new RepositoryError('RETENTION_INVALID', message)

const pad = (n: number): string => String(n).padStart(2, '0')

/**
 * The bucket an instant falls in for `period`, as a sortable key. Periods start where the
 * settings say: a daily backup at 01:00 with firstHourOfTheDay 3 belongs to the previous day;
 * weeks start on Sunday moved by firstDayOfWeek (XO's default locale week).
 */
export function periodKey(
  period: RetentionPeriod,
  ms: number,
  timezone: string,
  rule: PeriodRule = { retention: 1 },
): string {
  const wall = wallTime(ms, timezone)
  const s = rule.settings ?? {}
  switch (period) {
    case 'daily': {
      const d = dayFields(calendarDay(wall, s.firstHourOfTheDay ?? 0))
      return `${d.year}-${pad(d.month)}-${pad(d.day)}`
    }
    case 'weekly': {
      const day = calendarDay(wall) - (s.firstDayOfWeek ?? 0)
      const start = dayFields(day - dayFields(day).weekday)
      return `week of ${start.year}-${pad(start.month)}-${pad(start.day)}`
    }
    case 'monthly': {
      const d = dayFields(calendarDay(wall) - ((s.firstDayOfMonth ?? 1) - 1))
      return `${d.year}-${pad(d.month)}`
    }
    case 'yearly': {
      const d = dayFields(calendarDay(wall) - ((s.firstDayOfYear ?? 1) - 1))
      return String(d.year)
    }
  }
}

function validate(entries: readonly RetentionEntry[], policy: RetentionPolicy): void {
  if (!Number.isInteger(policy.minCount) || policy.minCount < 0) {
    throw invalid(`minCount: expected an integer >= 0, got ${JSON.stringify(policy.minCount)}`)
  }
  const ltr = policy.longTermRetention ?? {}
  for (const [period, rule] of Object.entries(ltr)) {
    if (!PERIODS.includes(period as RetentionPeriod))
      throw invalid(`longTermRetention: unknown period ${JSON.stringify(period)}`)
    if (!Number.isInteger(rule.retention) || rule.retention < 1) {
      throw invalid(
        `longTermRetention.${period}.retention: expected an integer >= 1, got ${JSON.stringify(rule.retention)}`,
      )
    }
  }
  if (Object.keys(ltr).length > 0 && policy.timezone === undefined)
    throw invalid('longTermRetention needs a timezone')
  entries.forEach((entry, i) => {
    if (!Number.isFinite(entry.timestamp)) throw invalid(`entry ${entry.id}: timestamp is not a number`)
    const previous = entries[i - 1]
    if (previous !== undefined && !(previous.timestamp < entry.timestamp)) {
      throw invalid(
        `entries must be sorted by strictly increasing timestamp: ${previous.id} then ${entry.id}`,
      )
    }
  })
}

/**
 * Decides which entries (sorted oldest first) to keep: the newest `minCount`, and for each
 * long-term period the oldest entry of each of the newest `retention` periods that hold one
 * (empty periods do not use a slot, so retention reaches back in time), as XO's retention does
 * (xen-orchestra-backups.md §3.4). Pure: nothing is deleted here.
 */
export function planRetention<E extends RetentionEntry>(
  entries: readonly E[],
  policy: RetentionPolicy,
): RetentionPlan<E> {
  validate(entries, policy)
  const reasons = new Map<E, string[]>()
  const because = (entry: E, reason: string): void => {
    const list = reasons.get(entry) ?? []
    list.push(reason)
    reasons.set(entry, list)
  }
  if (policy.minCount > 0)
    for (const entry of entries.slice(-policy.minCount))
      because(entry, `one of the ${policy.minCount} most recent`)
  for (const period of PERIODS) {
    const rule = policy.longTermRetention?.[period]
    if (rule === undefined) continue
    const oldestByKey = new Map<string, E>()
    for (let i = entries.length - 1; i >= 0; i--) {
      const entry = entries[i] as E
      const key = periodKey(period, entry.timestamp, policy.timezone ?? 'UTC', rule)
      // A new bucket takes a slot while slots remain; within a bucket, older entries replace newer ones.
      if (!oldestByKey.has(key) && oldestByKey.size >= rule.retention) continue
      oldestByKey.set(key, entry)
    }
    for (const [key, entry] of oldestByKey) because(entry, `${period} ${key}`)
  }
  return {
    keep: entries
      .filter((e) => reasons.has(e))
      .map((entry) => ({ entry, reasons: reasons.get(entry) ?? [] })),
    delete: entries.filter((e) => !reasons.has(e)),
  }
}
