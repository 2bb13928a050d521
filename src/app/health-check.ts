// The composition root of `xapi-backup health-check`: a backup of a remote restored on an SR
// (withRestoreContext, restoreBackup), booted without networks until its guest reports its tools
// (healthCheckVm), then destroyed — under one root task, XO's `VM Backup Health Check`.
import type { HealthCheckResult } from '../engine/health-check/vm-health-check.ts'
import { healthCheckVm } from '../engine/health-check/vm-health-check.ts'
import { restoreBackup } from '../engine/restore/restore-backup.ts'
import { runRootTask } from '../tasks/task.ts'
import type { RestoreFromRemoteOptions } from './restore.ts'
import { parseRestoreBackupId, withRestoreContext } from './restore.ts'

/** Options of healthCheckFromRemote: a restore's, plus the time the guest has to report its tools. */
export type HealthCheckFromRemoteOptions = Omit<RestoreFromRemoteOptions, 'mapDisks' | 'newMacAddresses'> & {
  /** `healthCheckTimeout`: from VM.start to the guest's PV drivers (default 10 min, as XO). */
  readonly timeoutMs?: number
}

/** What a passed health check reports. */
export interface HealthCheckOutcome extends HealthCheckResult {
  readonly backupId: string
}

/** XO's default healthCheckTimeout (xen-orchestra-backups.md §1.2). */
export const DEFAULT_HEALTH_CHECK_TIMEOUT_MS = 600_000

/**
 * Health-checks the backup `backupId`: restores it on the SR `srUuid` (a `transfer` task), starts
 * it without VIFs and waits for its PV drivers within `timeoutMs` (a `vmstart` task), all under a
 * root task `VM Backup Health Check` logged to `sink`; the restored VM and its disks are destroyed
 * whatever happens. Throws the setup's RestoreSetupError, the restore's error or the check's
 * HealthCheckError (HEALTH_CHECK_TIMEOUT: the guest never reported its tools).
 */
export async function healthCheckFromRemote(
  options: HealthCheckFromRemoteOptions,
): Promise<HealthCheckOutcome> {
  const { vmUuid } = parseRestoreBackupId(options.backupId)
  const { signal } = options
  return withRestoreContext(options, async ({ xapi, remote, backup, srRef, clock }) => {
    const result = await runRootTask(
      { sink: options.sink, clock, ...(signal === undefined ? {} : { signal }) },
      {
        message: 'VM Backup Health Check',
        data: { type: 'backup.vm.healthCheck', objectId: vmUuid, backupId: backup.id, srId: options.srUuid },
      },
      (task) =>
        healthCheckVm(
          xapi,
          {
            timeoutMs: options.timeoutMs ?? DEFAULT_HEALTH_CHECK_TIMEOUT_MS,
            clock,
            signal: signal ?? task.signal,
            makeVm: async (made) =>
              (
                await restoreBackup(
                  { xapi, remote, backup, srRef, remoteName: remote.description, clock },
                  made,
                )
              ).vmRef,
          },
          task,
        ),
    )
    return { ...result, backupId: backup.id }
  })
}
