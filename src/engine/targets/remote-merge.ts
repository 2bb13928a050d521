import type { MergeStore } from '../../formats/vhd/merge-store.ts'
import type { LockHandle, Remote } from '../../remotes/remote.ts'
import { checkVmBackups, doubtfulFindings } from '../../repository/check.ts'
import type { FindingKind } from '../../repository/check.ts'
import { mergeVmBackups } from '../../repository/merge.ts'
import type { Task } from '../../tasks/task.ts'
import { quoteFindings, repairUnattended } from './remote-repair.ts'

/** At most this many waiting disks are named in the log line (the count is always exact). */
const MAX_NAMED = 50

// What mergeVmBackups has to do, as check reports it: expired disks that kept ones chain onto, a
// merge to resume, or a kept delta whose metadata a cut merge left stale (its rewrite comes last).
// Without any of them the folder has nothing to merge and the one check serves the cleanup too.
const MERGE_WORK: readonly FindingKind[] = ['unmerged-ancestor', 'interrupted-merge', 'size-mismatch']

/** Options of mergeAndClean. */
export interface MergeAndCleanOptions {
  /** In-place access to the remote's files; absent for object storage (ADR 0005). */
  readonly store?: MergeStore | undefined
  readonly maxMergedDeltasPerRun: number
  readonly lock?: LockHandle
}

/**
 * After expired delta backups lost their metadata: folds their disks into the kept ones where
 * `store` allows (mergeVmBackups, at most `maxMergedDeltasPerRun` per chain, refreshing `lock`),
 * then removes the disks nothing needs any more (repairUnattended). Merges are skipped while the
 * folder has a doubtful finding (an unreadable metadata file's disks would look unreferenced and be
 * merged away). Disks that kept backups still chain onto are named in the log with why they wait:
 * no in-place access (a warning: ADR 0005), or the per-run limit, or the doubtful state. Returns
 * the bytes merged (the seed's `merge` task result). The caller holds the VM lock.
 */
export async function mergeAndClean(
  remote: Remote,
  vmUuid: string,
  options: MergeAndCleanOptions,
  task: Task,
): Promise<number> {
  let mergedBytes = 0
  let blocked = false
  let damaged = false
  let report = await checkVmBackups(remote, vmUuid)
  if (options.store !== undefined) {
    const doubtful = doubtfulFindings(report)
    blocked = doubtful.length > 0
    if (blocked)
      task.warning('merges wait: this VM folder has problems a read error may have caused', {
        findings: quoteFindings(doubtful),
      })
    else if (report.findings.some((f) => MERGE_WORK.includes(f.kind))) {
      const result = await mergeVmBackups(
        remote,
        options.store,
        vmUuid,
        {
          maxMergedDeltasPerRun: options.maxMergedDeltasPerRun,
          ...(options.lock === undefined ? {} : { lock: options.lock }),
        },
        task,
      )
      mergedBytes = result.mergedBytes
      damaged = result.skipped.length > 0
      if (damaged)
        task.warning('chains left unmerged: a disk in them is damaged', {
          disks: result.skipped.slice(0, MAX_NAMED),
        })
      // Only a merge changes what check sees (a metadata rewrite fixes a size the report names).
      if (result.merges.length > 0) report = await checkVmBackups(remote, vmUuid)
    }
  }
  const waiting = report.findings.filter((f) => f.kind === 'unmerged-ancestor').map((f) => f.path)
  if (waiting.length > 0) {
    const named = { disks: waiting.slice(0, MAX_NAMED) }
    if (options.store === undefined)
      task.warning(
        `${waiting.length} disk(s) of expired delta backups wait for a merge: this remote cannot change files in place (ADR 0005) and kept backups are chained onto them; their space is freed when a full backup (fullInterval) starts a new chain and the old one expires`,
        { ...named, reason: 'no-in-place-merge' },
      )
    else
      task.info(`${waiting.length} disk(s) of expired delta backups wait for a later run's merge`, {
        ...named,
        reason: blocked ? 'doubtful-findings' : damaged ? 'damaged-chains' : 'maxMergedDeltasPerRun',
      })
  }
  await repairUnattended(remote, report, task)
  return mergedBytes
}
