import type { MergeStore } from '../formats/vhd/merge-store.ts'
import type { LockHandle, Remote } from '../remotes/remote.ts'
import type { Task } from '../tasks/task.ts'
import { checkVmBackups, doubtfulFindings, repairVmBackups } from './check.ts'
import type { BackupListing } from './listing.ts'
import type { MergeRunResult } from './merge.ts'
import { mergeVmBackups } from './merge.ts'

/** What applying a retention plan did. */
export interface RetentionResult {
  readonly deletedBackups: readonly string[]
  readonly merge?: MergeRunResult
  readonly deletedFiles: readonly string[]
  /** Why unused disks were left in place (a doubtful finding: see doubtfulFindings), if they were. */
  readonly orphansKept?: string
}

/**
 * Applies the deletions of a retention plan (xen-orchestra-backups.md §3.4): each backup's metadata
 * first (from then on it is not listed), a full backup's XVA and checksum next; then, when `store`
 * can modify files in place, merges the expired deltas into the key so the oldest kept backup
 * becomes the key; finally removes the disks nothing needs any more. Without a store (object
 * storage), expired deltas stay until a merge can run: nothing a kept backup needs is deleted.
 * The caller holds the VM lock (withVmLock) and passes it to be refreshed during merges.
 */
export async function applyRetention(
  remote: Remote,
  vmUuid: string,
  expired: readonly BackupListing[],
  options: {
    readonly store?: MergeStore
    readonly maxMergedDeltasPerRun?: number
    readonly lock?: LockHandle
  } = {},
  task?: Task,
): Promise<RetentionResult> {
  for (const backup of expired) {
    await remote.delete(backup.id)
    if (backup.metadata.mode === 'full')
      await remote.deleteMany([
        ...backup.files,
        ...(backup.checksumFile === undefined ? [] : [backup.checksumFile]),
      ])
  }
  const merge =
    options.store === undefined
      ? undefined
      : await mergeVmBackups(
          remote,
          options.store,
          vmUuid,
          options.maxMergedDeltasPerRun === undefined
            ? {}
            : { maxMergedDeltasPerRun: options.maxMergedDeltasPerRun },
          task,
        )
  if (options.store === undefined)
    task?.warning('this remote cannot merge in place: expired deltas are kept until a merge can run')
  const report = await checkVmBackups(remote, vmUuid)
  const doubtful = doubtfulFindings(report)
  if (doubtful.length > 0) {
    // An unreadable metadata file's disks look unused: deleting them could destroy that backup.
    const orphansKept = `${doubtful.length} problem(s) found (${[...new Set(doubtful.map((f) => f.kind))].join(', ')}): unused disks are left for \`backups check --repair\``
    task?.warning(orphansKept, { findings: doubtful.slice(0, 20).map((f) => f.path) })
    return {
      deletedBackups: expired.map((b) => b.id),
      ...(merge === undefined ? {} : { merge }),
      deletedFiles: [],
      orphansKept,
    }
  }
  const orphans = { ...report, findings: report.findings.filter((f) => f.kind === 'orphan-vhd') }
  const { deleted } = await repairVmBackups(remote, orphans, task)
  return {
    deletedBackups: expired.map((b) => b.id),
    ...(merge === undefined ? {} : { merge }),
    deletedFiles: deleted,
  }
}
