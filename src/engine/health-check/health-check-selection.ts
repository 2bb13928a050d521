// Which VMs are health-checked after a run (xen-orchestra-backups.md §1.2 healthCheckSr,
// healthCheckVmsWithTags; §1.5 `xo:no-health-check[=reason]`; §6 the info on the `health check`
// task). XO's semantics, checked in its VM runner's `_healthCheck`: no SR → no check and no task;
// a tag starting with `xo:no-health-check` always excludes; a non-empty tag list keeps the VMs
// having ANY one of those tags (exact, case-sensitive match), an empty list keeps every VM.
import type { VmBackupSettings } from '../settings-schema.ts'

/** The VM tag (alone or as `xo:no-health-check=<reason>`) that excludes a VM from health checks. */
export const NO_HEALTH_CHECK_TAG = 'xo:no-health-check'

/** XO's info on the `health check` task of a VM its tags leave out (reference §6). */
export const TAGS_MISMATCH_MESSAGE = "This VM doesn't match the health check's tags for this schedule"

/** Why a VM is not health-checked: no SR set (XO logs nothing), its own tag, or the schedule's tags. */
export type HealthCheckSkip = 'no-sr' | 'excluded-by-tag' | 'tags-mismatch'

/** The decision for one VM; `reason` is the text to log as the `health check` task's info. */
export type HealthCheckDecision =
  | { readonly check: true; readonly srUuid: string }
  | { readonly check: false; readonly skip: HealthCheckSkip; readonly reason: string }

/** The settings the decision reads (the VM's effective ones). */
export type HealthCheckSelectionSettings = Pick<VmBackupSettings, 'healthCheckSr' | 'healthCheckVmsWithTags'>

/**
 * Whether the VM with `vmTags` is health-checked after its run under `settings`: `healthCheckSr`
 * unset → no (`no-sr`, which XO does not log); a tag starting with `xo:no-health-check` → no,
 * naming the tag; `healthCheckVmsWithTags` non-empty and none of them on the VM → no, with XO's
 * message; otherwise yes, on `healthCheckSr`.
 */
export function selectForHealthCheck(
  vmTags: readonly string[],
  settings: HealthCheckSelectionSettings,
): HealthCheckDecision {
  const sr = settings.healthCheckSr
  if (sr === undefined || sr === '')
    return { check: false, skip: 'no-sr', reason: 'no health check SR is set (healthCheckSr)' }
  // XO tests `startsWith`, so `xo:no-health-check=<reason>` (and any longer tag) excludes too.
  const excluding = vmTags.find((tag) => tag.startsWith(NO_HEALTH_CHECK_TAG))
  if (excluding !== undefined) {
    return {
      check: false,
      skip: 'excluded-by-tag',
      reason: `This VM is excluded from health checks by its tag ${JSON.stringify(excluding)}`,
    }
  }
  const wanted = settings.healthCheckVmsWithTags
  if (wanted.length > 0 && !wanted.some((tag) => vmTags.includes(tag)))
    return { check: false, skip: 'tags-mismatch', reason: TAGS_MISMATCH_MESSAGE }
  return { check: true, srUuid: sr }
}
