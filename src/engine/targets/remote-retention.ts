import type { Remote } from '../../remotes/remote.ts'
import { CACHE_FILE, vmDir } from '../../repository/layout.ts'
import type { BackupListing } from '../../repository/listing.ts'
import type { RetentionPolicy } from '../../repository/retention.ts'
import { planRetention } from '../../repository/retention.ts'
import { formatBackupTimestamp, parseBackupTimestamp } from '../../shared/timestamps.ts'
import type { Task } from '../../tasks/task.ts'
import type { VmBackupSettings } from '../settings-schema.ts'

/** What decides a run's retention on one remote. */
export interface RunRetention {
  readonly mode: 'full' | 'delta'
  readonly jobId: string
  readonly scheduleId: string
  /** The metadata path of this run's backup (written already, or about to be with deleteFirst). */
  readonly newBackupId: string
  readonly newTimestampMs: number
  readonly settings: Pick<VmBackupSettings, 'exportRetention' | 'longTermRetention' | 'timezone'>
  /** At most this many backups deleted (the oldest expired first); the others wait for later runs. */
  readonly maxDeletions?: number
}

/**
 * The backups of `backups` (one VM, oldest first) that this run's retention deletes, oldest first
 * (xen-orchestra-backups.md §3.4): among the backups of the same job, schedule and mode, keep the
 * newest `exportRetention` and the long-term buckets (in `timezone`), counting this run's backup —
 * listed or not yet written (deleteFirst) — which is never deleted itself. At most `maxDeletions`
 * are returned, the oldest: a delta run passes what is left of `maxMergedDeltasPerRun`, since each
 * deletion means a merge, and the rest waits for the next runs, as XO does. Pure.
 */
export function expiredBackups(backups: readonly BackupListing[], run: RunRetention): BackupListing[] {
  // Listed timestamps come from names (whole seconds): compare this run's the same way.
  const newTimestampMs = parseBackupTimestamp(formatBackupTimestamp(run.newTimestampMs))
  const entries: { id: string; timestamp: number; backup?: BackupListing }[] = backups
    .filter(
      (b) =>
        b.id !== run.newBackupId &&
        b.metadata.mode === run.mode &&
        b.metadata.jobId === run.jobId &&
        b.metadata.scheduleId === run.scheduleId,
    )
    .map((backup) => ({ id: backup.id, timestamp: backup.timestampMs, backup }))
  entries.push({ id: run.newBackupId, timestamp: newTimestampMs })
  entries.sort((a, b) => a.timestamp - b.timestamp)
  const { exportRetention, longTermRetention, timezone } = run.settings
  const policy: RetentionPolicy = {
    minCount: exportRetention,
    ...(longTermRetention === undefined ? {} : { longTermRetention }),
    ...(timezone === undefined ? {} : { timezone }),
  }
  const expired = planRetention(entries, policy).delete.flatMap((e) =>
    e.backup === undefined ? [] : [e.backup],
  )
  return expired.slice(0, Math.max(0, run.maxDeletions ?? Infinity))
}

/**
 * Deletes backups, each by its metadata first (from then on it is not listed), then a full
 * backup's XVA and checksum; a delta backup's VHDs are left to the merge and orphan steps, since
 * kept backups may chain onto them. Logs one info per backup; drops the listing cache after.
 */
export async function deleteBackups(
  remote: Remote,
  vmUuid: string,
  backups: readonly BackupListing[],
  task: Task,
): Promise<void> {
  for (const backup of backups) {
    await remote.delete(backup.id)
    if (backup.metadata.mode === 'full')
      await remote.deleteMany([
        ...backup.files,
        ...(backup.checksumFile === undefined ? [] : [backup.checksumFile]),
      ])
    task.info('deleted an expired backup', { id: backup.id, mode: backup.metadata.mode })
  }
  if (backups.length > 0) await remote.delete(`${vmDir(vmUuid)}/${CACHE_FILE}`)
}
