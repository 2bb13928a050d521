// `xapi-backup run --explain`: every VM's effective settings per target and where each value came
// from, as data and as text. Job-level settings are shown once, VM-level per VM, target-level
// per VM and target, because that is where the engine reads them (settings-schema.ts scopes).
import { formatDuration } from './duration.ts'
import type { JobDescription } from './run-description.ts'
import type { EffectiveSettings } from './settings.ts'
import { resolveSettings } from './settings.ts'
import type { SettingName, SettingScope, VmBackupSettings } from './settings-schema.ts'
import { SETTING_NAMES, SETTING_SPECS } from './settings-schema.ts'

/** One target of a VM: a remote id or an SR uuid. */
export interface TargetSettings {
  readonly id: string
  readonly kind: 'remote' | 'sr'
  readonly settings: EffectiveSettings
}

/** The explanation of one run: job-wide settings, then each VM's, then each VM's per target. */
export interface SettingsExplanation {
  readonly scheduleId: string
  readonly job: EffectiveSettings
  readonly vms: readonly {
    readonly vmId: string
    readonly settings: EffectiveSettings
    readonly targets: readonly TargetSettings[]
  }[]
  /** VM-level settings keys that name none of the VMs explained (a stale uuid, another schedule). */
  readonly unusedKeys: readonly string[]
}

/**
 * Resolves the settings of `job` under `scheduleId` for each of `vmIds` (the VMs selected for
 * the run) and each of the job's targets; throws as resolveSettings does on contradictions.
 */
export function explainSettings(
  job: JobDescription,
  scheduleId: string,
  vmIds: readonly string[],
): SettingsExplanation {
  const targets = [
    ...job.remotes.map((id) => ({ id, kind: 'remote' as const })),
    ...job.srs.map((id) => ({ id, kind: 'sr' as const })),
  ]
  const vms = vmIds.map((vmId) => ({
    vmId,
    settings: resolveSettings(job.settings, { scheduleId, vmId }),
    targets: targets.map((t) => ({
      ...t,
      settings: resolveSettings(job.settings, { scheduleId, vmId, targetId: t.id }),
    })),
  }))
  const unusedKeys = [...job.settings]
    .filter(([key, { level }]) => level === 'vm' && !vmIds.includes(key))
    .map(([key]) => key)
  return { scheduleId, job: resolveSettings(job.settings, { scheduleId }), vms, unusedKeys }
}

const DURATIONS: ReadonlySet<SettingName> = new Set([
  'getRemoteTimeout',
  'timeout',
  'healthCheckTimeout',
  'vmTimeout',
])

/** A setting's value for people: durations with units, Infinity as unlimited, LTR as periods. */
export function formatSettingValue<K extends SettingName>(name: K, value: VmBackupSettings[K]): string {
  if (value === undefined) return '(unset)'
  if (typeof value === 'number') {
    if (DURATIONS.has(name)) return value === 0 ? '0 (none)' : formatDuration(value)
    return value === Number.POSITIVE_INFINITY ? 'unlimited' : String(value)
  }
  if (Array.isArray(value)) return value.length === 0 ? '[]' : value.join(', ')
  if (typeof value === 'object') {
    const periods = Object.entries(value as NonNullable<VmBackupSettings['longTermRetention']>)
    if (periods.length === 0) return '(none)'
    return periods
      .map(([period, rule]) => {
        const start = Object.entries(rule.settings ?? {}).map(([k, v]) => `${k} ${String(v)}`)
        return `${period} ${rule.retention}${start.length === 0 ? '' : ` (${start.join(', ')})`}`
      })
      .join(', ')
  }
  return String(value)
}

const NAME_WIDTH = Math.max(...SETTING_NAMES.map((n) => n.length)) + 4
const VALUE_WIDTH = 16

function rows(
  settings: EffectiveSettings,
  scope: SettingScope,
  indent: string,
  changedOnly: boolean,
): string[] {
  return SETTING_NAMES.filter((name) => SETTING_SPECS[name].scope === scope)
    .filter((name) => !changedOnly || settings.sources[name] !== 'default')
    .map((name) => {
      const value = formatSettingValue(name, settings.values[name])
      // Names padded with their indent so that values line up across job, VM and target sections.
      return `${(indent + name).padEnd(NAME_WIDTH)}  ${value.padEnd(VALUE_WIDTH)}  ${settings.sources[name]}`
    })
}

/**
 * Renders an explanation as text: one line per setting `name  value  source` (source is default,
 * job, schedule, vm or target); with `changedOnly`, settings left at XO's default are omitted.
 */
export function renderSettingsExplanation(
  explanation: SettingsExplanation,
  options: { readonly changedOnly?: boolean } = {},
): string {
  const changedOnly = options.changedOnly === true
  const lines = [
    `job-wide (schedule ${explanation.scheduleId}):`,
    ...rows(explanation.job, 'job', '  ', changedOnly),
  ]
  for (const vm of explanation.vms) {
    lines.push(`VM ${vm.vmId}:`, ...rows(vm.settings, 'vm', '  ', changedOnly))
    for (const target of vm.targets)
      lines.push(`  to ${target.kind} ${target.id}:`, ...rows(target.settings, 'target', '    ', changedOnly))
  }
  for (const key of explanation.unusedKeys)
    lines.push(`note: settings['${key}'] matches no VM of this run; its settings were not used`)
  return `${lines.join('\n')}\n`
}
