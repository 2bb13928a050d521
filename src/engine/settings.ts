// job.settings: blocks keyed by '' (job), the schedule id, a VM uuid or a target (remote id, SR
// uuid), merged in that order (xen-orchestra-backups.md §1.1), each value with where it came from.
import { isPlainObject } from './fields.ts'
import type { FieldPath, RunDescriptionWarning } from './run-description-error.ts'
import { formatPath, invalidField, invalidRelation } from './run-description-error.ts'
import type { SettingName, SettingScope, VmBackupSettings } from './settings-schema.ts'
import { SETTING_NAMES, SETTING_SPECS } from './settings-schema.ts'

/** The level a value came from, most general first. */
export type SettingSource = 'default' | 'job' | 'schedule' | 'vm' | 'target'

/** The settings one block sets (only those given). */
export type SettingsBlock = { readonly [K in SettingName]?: VmBackupSettings[K] }

/**
 * The level a job.settings key denotes. `otherSchedule`: a key naming none of the others, taken as
 * another schedule of the same job (XO keeps every schedule's block in job.settings, and a job's
 * snapshots of other schedules are retained by those schedules' snapshotRetention).
 */
export type SettingsLevel = SettingSource | 'otherSchedule'

/** Checked job.settings: each block with the level its key denotes. */
export type SettingsBlocks = ReadonlyMap<
  string,
  { readonly level: SettingsLevel; readonly block: SettingsBlock }
>

/** What the keys of job.settings may name; `vmIds` undefined means smart mode (VMs known at run time). */
export interface SettingsKeyContext {
  readonly scheduleId: string
  readonly remoteIds: readonly string[]
  readonly srIds: readonly string[]
  readonly vmIds: readonly string[] | undefined
}

/** Where effective settings are asked for: always a schedule, optionally a VM and one of its targets. */
export interface SettingsPoint {
  readonly scheduleId: string
  readonly vmId?: string
  readonly targetId?: string
}

/** Effective settings and, for each, the level that set it. */
export interface EffectiveSettings {
  readonly values: VmBackupSettings
  readonly sources: { readonly [K in SettingName]: SettingSource }
}

// XO declares these and never reads them (reference §12.1); accepted so XO jobs load, said aloud.
const IGNORED: Readonly<Record<string, string>> = { useNbd: 'declared by XO but never read; use preferNbd' }
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const LEVEL_ORDER: readonly SettingSource[] = ['job', 'schedule', 'vm', 'target']
const READ_AT: Readonly<Record<SettingScope, readonly SettingSource[]>> = {
  job: ['job', 'schedule'],
  vm: ['job', 'schedule', 'vm'],
  target: LEVEL_ORDER,
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(
        (previous[j] ?? 0) + 1,
        (row[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      )
    previous = row
  }
  return previous[b.length] ?? 0
}

/** The known setting a typo most likely meant, if one is close. */
export function closestSettingName(name: string): SettingName | undefined {
  const scored = SETTING_NAMES.map((known) => ({
    known,
    d: editDistance(name.toLowerCase(), known.toLowerCase()),
  }))
  const best = scored.sort((x, y) => x.d - y.d)[0]
  return best !== undefined && best.d <= Math.max(2, Math.floor(name.length / 5)) ? best.known : undefined
}

const didYouMean = (name: string): string => {
  const known = closestSettingName(name)
  return known === undefined ? 'XO ignores it too' : `did you mean ${known}?`
}

function levelOfKey(key: string, context: SettingsKeyContext): SettingsLevel {
  if (key === '') return 'job'
  if (key === context.scheduleId) return 'schedule'
  if (context.remoteIds.includes(key) || context.srIds.includes(key)) return 'target'
  if (context.vmIds === undefined ? UUID.test(key) : context.vmIds.includes(key)) return 'vm'
  return 'otherSchedule'
}

/**
 * Checks job.settings against the table: wrong types throw RUN_DESCRIPTION_INVALID naming the
 * path; unknown settings (XO ignores them) and settings set at a level the engine does not read
 * them from become warnings; keys must name the job, the schedule, a VM or a target.
 */
export function checkSettings(
  value: unknown,
  path: FieldPath,
  context: SettingsKeyContext,
  warnings: RunDescriptionWarning[],
): SettingsBlocks {
  const blocks = new Map<string, { level: SettingsLevel; block: SettingsBlock }>()
  if (value === undefined) return blocks
  if (!isPlainObject(value))
    throw invalidField(path, "an object of setting blocks keyed by '', schedule, VM or target ids", value)
  for (const [key, raw] of Object.entries(value)) {
    const blockPath = [...path, key]
    const level = levelOfKey(key, context)
    if (level === 'otherSchedule')
      warnings.push({
        path: formatPath(blockPath),
        message: `${formatPath(blockPath)}: names no VM, target or this run's schedule '${context.scheduleId}'; taken as another schedule of the job (used only for its snapshots' retention)`,
      })
    if (!isPlainObject(raw)) throw invalidField(blockPath, 'an object of settings', raw)
    const block: Partial<Record<SettingName, unknown>> = {}
    for (const [name, given] of Object.entries(raw)) {
      const at = formatPath([...blockPath, name])
      if (!Object.hasOwn(SETTING_SPECS, name)) {
        const hint = IGNORED[name] ?? didYouMean(name)
        warnings.push({ path: at, message: `${at}: unknown setting, ignored (${hint})` })
        continue
      }
      const settingName = name as SettingName
      block[settingName] = SETTING_SPECS[settingName].check(given, [...blockPath, name])
      const scope = SETTING_SPECS[settingName].scope
      if (level !== 'otherSchedule' && !READ_AT[scope].includes(level))
        warnings.push({
          path: at,
          message: `${at}: has no effect per ${level === 'vm' ? 'VM' : level}; ${name} is read from the job's or the schedule's settings${scope === 'vm' ? ' or a VM' : ''}`,
        })
    }
    blocks.set(key, { level, block: block as SettingsBlock })
  }
  return blocks
}

function keyAt(level: SettingSource, point: SettingsPoint): string | undefined {
  switch (level) {
    case 'job':
      return ''
    case 'schedule':
      return point.scheduleId
    case 'vm':
      return point.vmId
    case 'target':
      return point.targetId
    default:
      return undefined
  }
}

/**
 * Effective settings at `point`: defaults, then the job, schedule, VM and target blocks (each
 * setting only from the levels its scope allows), with provenance. Throws when the merged result
 * is contradictory: long-term retention without timezone, offlineBackup with snapshotRetention.
 */
export function resolveSettings(
  blocks: SettingsBlocks,
  point: SettingsPoint,
  path: FieldPath = ['job', 'settings'],
): EffectiveSettings {
  const values: Record<string, unknown> = {}
  const sources: Record<string, SettingSource> = {}
  for (const name of SETTING_NAMES) {
    values[name] = SETTING_SPECS[name].default
    sources[name] = 'default'
    for (const level of READ_AT[SETTING_SPECS[name].scope]) {
      const key = keyAt(level, point)
      const block = key === undefined ? undefined : blocks.get(key)
      // Asked for another schedule (its snapshot retention): its block stands at the schedule level.
      const matches = block?.level === level || (level === 'schedule' && block?.level === 'otherSchedule')
      if (block === undefined || !matches || !Object.hasOwn(block.block, name)) continue
      values[name] = block.block[name]
      sources[name] = level
    }
  }
  const effective = {
    values: values as unknown as VmBackupSettings,
    sources: sources as EffectiveSettings['sources'],
  }
  checkCombination(effective, point, path)
  return effective
}

function checkCombination(effective: EffectiveSettings, point: SettingsPoint, path: FieldPath): void {
  const { values, sources } = effective
  const origin = (name: SettingName): FieldPath => [...path, keyAt(sources[name], point) ?? '', name]
  const ltr = values.longTermRetention
  if (ltr !== undefined && Object.keys(ltr).length > 0 && values.timezone === undefined)
    throw invalidRelation(
      origin('longTermRetention'),
      "a timezone with long-term retention (set timezone, e.g. in settings[''])",
      'no timezone',
    )
  if (values.offlineBackup && values.snapshotRetention > 0)
    throw invalidRelation(
      origin('offlineBackup'),
      'snapshotRetention 0 with offlineBackup (XO refuses the pair)',
      `snapshotRetention ${values.snapshotRetention} from ${formatPath(origin('snapshotRetention'))}`,
    )
}
