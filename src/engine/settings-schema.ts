// The VM backup settings (xen-orchestra-backups.md §1.2) with XO's defaults, the level at which
// the engine reads each (job, VM or target), and the check of a user-given value.
import type { PeriodRule, RetentionPeriod } from '../repository/retention.ts'
import { parseDuration } from './duration.ts'
import { booleanAt, integerAt, nonNegativeNumberAt, objectAt, oneOfAt, stringArrayAt } from './fields.ts'
import type { FieldPath } from './run-description-error.ts'
import { invalidField, invalidRelation } from './run-description-error.ts'

/** Long-term retention as the repository's retention plan takes it (periods without a rule are absent). */
export type LongTermRetention = Partial<Record<RetentionPeriod, PeriodRule>>

/** Every VM backup setting, resolved (durations in ms). */
export interface VmBackupSettings {
  readonly reportWhen: 'always' | 'failure' | 'error' | 'never'
  readonly getRemoteTimeout: number
  readonly concurrency: number
  readonly maxExportRate: number
  readonly nRetriesVmBackupFailures: number
  readonly timeout: number
  readonly backupReportTpl: 'mjml' | 'compactMjml'
  readonly reportRecipients: readonly string[]
  readonly hideSuccessfulItems: boolean
  readonly distributeBackups: boolean
  readonly distributeReplications: boolean
  readonly snapshotRetention: number
  readonly fullInterval: number
  readonly offlineBackup: boolean
  readonly offlineSnapshot: boolean
  readonly checkpointSnapshot: boolean
  readonly unconditionalSnapshot: boolean
  readonly bypassVdiChainsCheck: boolean
  readonly cbtDestroySnapshotData: boolean
  readonly preferNbd: boolean
  readonly nbdConcurrency: number
  readonly healthCheckSr: string | undefined
  readonly healthCheckVmsWithTags: readonly string[]
  readonly healthCheckTimeout: number
  readonly vmTimeout: number
  readonly validateVhdStreams: boolean
  readonly exportRetention: number
  readonly copyRetention: number
  readonly deleteFirst: boolean
  readonly maxMergedDeltasPerRun: number
  readonly diskPerVmConcurrency: number
  readonly longTermRetention: LongTermRetention | undefined
  readonly timezone: string | undefined
  readonly mergeBackupsSynchronously: boolean
}

/** A setting's name. */
export type SettingName = keyof VmBackupSettings

/** The most specific level whose block the engine reads for a setting (job < vm < target). */
export type SettingScope = 'job' | 'vm' | 'target'

/** How one setting is defaulted, scoped and checked. */
export interface SettingSpec<T> {
  readonly default: T
  readonly scope: SettingScope
  readonly check: (value: unknown, path: FieldPath) => T
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

const count = (min: number) => (value: unknown, path: FieldPath) => integerAt(value, path, min)
const flag = (value: unknown, path: FieldPath): boolean => booleanAt(value, path)
const spec = <T>(
  scope: SettingScope,
  fallback: T,
  check: (value: unknown, path: FieldPath) => T,
): SettingSpec<T> => ({
  default: fallback,
  scope,
  check,
})

/** True when Intl knows `timezone` as an IANA zone name. */
export function isKnownTimezone(timezone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone })
    return true
  } catch {
    return false
  }
}

// Where each long-term period may start (repository/retention.ts PeriodRule), with its bounds.
const PERIOD_START: Readonly<Record<RetentionPeriod, readonly [string, number, number]>> = {
  daily: ['firstHourOfTheDay', 0, 23],
  weekly: ['firstDayOfWeek', 0, 6],
  monthly: ['firstDayOfMonth', 1, 28],
  yearly: ['firstDayOfYear', 1, 365],
}

function checkLongTermRetention(value: unknown, path: FieldPath): LongTermRetention {
  const periods = objectAt(value, path, 'an object of periods (daily, weekly, monthly, yearly)')
  const out: Partial<Record<RetentionPeriod, PeriodRule>> = {}
  for (const [period, rule] of Object.entries(periods)) {
    const bounds = (PERIOD_START as Readonly<Record<string, readonly [string, number, number]>>)[period]
    if (bounds === undefined)
      throw invalidRelation(
        [...path, period],
        'a period among daily, weekly, monthly, yearly',
        'an unknown one',
      )
    const ruleObject = objectAt(rule, [...path, period], '{retention: n}')
    const [startKey, min, max] = bounds
    for (const key of Object.keys(ruleObject))
      if (key !== 'retention' && key !== 'settings')
        throw invalidRelation([...path, period, key], 'retention or settings', 'an unknown field')
    const retention = integerAt(ruleObject.retention, [...path, period, 'retention'], 0)
    let settings: PeriodRule['settings']
    if (ruleObject.settings !== undefined) {
      const given = objectAt(ruleObject.settings, [...path, period, 'settings'], `{${startKey}: n}`)
      for (const [key, start] of Object.entries(given)) {
        const at = [...path, period, 'settings', key]
        if (key !== startKey)
          throw invalidRelation(at, `${startKey} (the only setting of ${period})`, 'another field')
        if (typeof start !== 'number' || !Number.isInteger(start) || start < min || start > max)
          throw invalidField(at, `an integer from ${min} to ${max}`, start)
        settings = { [startKey]: start }
      }
    }
    // XO's UI stores `retention: 0` for a period the user left empty: it keeps nothing, like no rule.
    if (retention > 0)
      out[period as RetentionPeriod] = settings === undefined ? { retention } : { retention, settings }
  }
  return out
}

/** The table: XO's defaults (VmsXapi DEFAULT_SETTINGS + DEFAULT_XAPI_VM_SETTINGS), scope and check. */
export const SETTING_SPECS: { readonly [K in SettingName]: SettingSpec<VmBackupSettings[K]> } = {
  reportWhen: spec('job', 'failure', (v, p) => {
    // XO accepts 'Never' (capitalised by old UIs) as 'never'.
    return oneOfAt(v === 'Never' ? 'never' : v, p, ['always', 'failure', 'error', 'never'])
  }),
  getRemoteTimeout: spec('job', 300_000, parseDuration),
  concurrency: spec('job', 2, count(0)),
  maxExportRate: spec('job', 0, nonNegativeNumberAt),
  nRetriesVmBackupFailures: spec('job', 0, count(0)),
  timeout: spec('job', 0, parseDuration),
  backupReportTpl: spec('job', 'mjml', (v, p) => oneOfAt(v, p, ['mjml', 'compactMjml'])),
  reportRecipients: spec('job', [], stringArrayAt),
  hideSuccessfulItems: spec('job', false, flag),
  distributeBackups: spec('job', false, flag),
  distributeReplications: spec('job', false, flag),
  snapshotRetention: spec('vm', 0, count(0)),
  fullInterval: spec('vm', 0, count(0)),
  offlineBackup: spec('vm', false, flag),
  offlineSnapshot: spec('vm', false, flag),
  checkpointSnapshot: spec('vm', false, flag),
  unconditionalSnapshot: spec('vm', false, flag),
  bypassVdiChainsCheck: spec('vm', false, flag),
  cbtDestroySnapshotData: spec('vm', false, flag),
  preferNbd: spec('vm', false, flag),
  nbdConcurrency: spec('vm', 1, count(1)),
  healthCheckSr: spec<string | undefined>('vm', undefined, (v, p) => {
    if (typeof v !== 'string' || !UUID.test(v)) throw invalidField(p, 'an SR uuid', v)
    return v
  }),
  healthCheckVmsWithTags: spec('vm', [], stringArrayAt),
  healthCheckTimeout: spec('vm', 600_000, parseDuration),
  vmTimeout: spec('vm', 0, parseDuration),
  validateVhdStreams: spec('vm', false, flag),
  exportRetention: spec('target', 0, count(0)),
  copyRetention: spec('target', 0, count(0)),
  deleteFirst: spec('target', false, flag),
  maxMergedDeltasPerRun: spec('target', Number.POSITIVE_INFINITY, count(1)),
  diskPerVmConcurrency: spec('target', 0, count(0)),
  longTermRetention: spec<LongTermRetention | undefined>('target', undefined, checkLongTermRetention),
  timezone: spec<string | undefined>('target', undefined, (v, p) => {
    if (typeof v !== 'string' || !isKnownTimezone(v))
      throw invalidField(p, 'an IANA timezone like Europe/Paris', v)
    return v
  }),
  mergeBackupsSynchronously: spec('target', false, flag),
}

/** Every setting name, in the table's order (job-level first, then VM, then target). */
export const SETTING_NAMES = Object.keys(SETTING_SPECS) as readonly SettingName[]

/** XO's default settings as one object. */
export function defaultSettings(): VmBackupSettings {
  return Object.fromEntries(
    SETTING_NAMES.map((name) => [name, SETTING_SPECS[name].default]),
  ) as unknown as VmBackupSettings
}
