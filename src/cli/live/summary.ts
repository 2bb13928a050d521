import { formatBytes, formatDuration, formatRate, runStatuses } from '../../tasks/index.ts'
import type { RunStatus, TaskTreeNode } from '../../tasks/index.ts'
import { transferredBytes } from './live-tree.ts'

/** A run's outcome once it is over: pending tasks were closed as interrupted first. */
export type FinalStatus = Exclude<RunStatus, 'pending'>

/** The final summary of a run, as the CLI prints it (formatRunSummary) or returns it as JSON. */
export interface RunSummary {
  /** The run status of the job tree (src/tasks runStatus); `interrupted` when nothing was logged. */
  readonly status: FinalStatus
  /** VM tasks (`data.type: 'VM'`) by their run status. */
  readonly vms: Readonly<Record<FinalStatus, number>>
  /** Sum of the sizes of the successful `transfer` steps. */
  readonly transferredBytes: number
  /** From the first start to the last end (or to close, for a run that did not end). */
  readonly durationMs: number
  readonly warnings: number
  /** What the status alone does not say (every VM skipped, no task logged). */
  readonly note?: string
}

const ORDER: readonly FinalStatus[] = ['success', 'failure', 'skipped', 'interrupted']

/** The worst of several run statuses by the rules of runStatus: interrupted, failure, all skipped, success. */
function worst(statuses: readonly RunStatus[]): FinalStatus {
  if (statuses.some((s) => s === 'pending' || s === 'interrupted')) return 'interrupted'
  if (statuses.includes('failure')) return 'failure'
  if (statuses.length > 0 && statuses.every((s) => s === 'skipped')) return 'skipped'
  return 'success'
}

/**
 * Summarises the trees of a run at its end: the status is runStatus of the job root(s) (of every
 * root when no job was logged, e.g. a restore); `nowMs` ends the duration of a run without end.
 * Call it on finalized trees (LiveTree.finalize) so that unfinished tasks count as interrupted.
 */
export function summarizeRun(roots: readonly TaskTreeNode[], nowMs: number, warnings: number): RunSummary {
  const vms: Record<FinalStatus, number> = { success: 0, failure: 0, skipped: 0, interrupted: 0 }
  const jobs = roots.filter((root) => root.kind === 'job')
  const counted = jobs.length > 0 ? jobs : roots
  const statuses: RunStatus[] = []
  let bytes = 0
  let first = Infinity
  let last = -Infinity
  for (const root of counted) {
    const all = runStatuses(root)
    statuses.push(all.get(root) ?? 'pending')
    for (const [node, status] of all) {
      if (node.data?.type === 'VM') vms[status === 'pending' ? 'interrupted' : status]++
    }
    bytes += transferredBytes(root)
    first = Math.min(first, root.start)
    last = Math.max(last, root.end ?? nowMs)
  }
  const status = counted.length === 0 ? 'interrupted' : worst(statuses)
  const vmCount = ORDER.reduce((sum, s) => sum + vms[s], 0)
  const note =
    counted.length === 0
      ? 'no task was logged'
      : status === 'skipped'
        ? vmCount > 0
          ? 'every VM was skipped: nothing was backed up'
          : 'every task was skipped: nothing was done'
        : undefined
  return {
    status,
    vms,
    transferredBytes: bytes,
    durationMs: counted.length === 0 ? 0 : Math.max(0, last - first),
    warnings,
    ...(note === undefined ? {} : { note }),
  }
}

/**
 * The process exit code of a run: 0 for success, and for skipped (a job whose VMs were all
 * skipped did what it was told: there was nothing to back up; the summary says so in a note);
 * 1 for failure, interrupted and pending (something that should have been backed up was not).
 */
export function exitCodeFor(status: RunStatus): 0 | 1 {
  return status === 'success' || status === 'skipped' ? 0 : 1
}

/** The summary as text, one fact a line, ending with a newline: what `xapi-backup run` prints last. */
export function formatRunSummary(summary: RunSummary): string {
  const vms = ORDER.filter((s) => summary.vms[s] > 0).map((s) => `${summary.vms[s]} ${s}`)
  const rate = formatRate(summary.transferredBytes, summary.durationMs)
  const lines = [
    `status: ${summary.status} (exit code ${exitCodeFor(summary.status)})`,
    ...(vms.length > 0 ? [`VMs: ${vms.join(', ')}`] : []),
    `transferred: ${formatBytes(summary.transferredBytes)} in ${formatDuration(summary.durationMs)}${
      summary.transferredBytes > 0 && rate !== '' ? ` (${rate})` : ''
    }`,
    ...(summary.warnings > 0 ? [`warnings: ${summary.warnings}`] : []),
    ...(summary.note === undefined ? [] : [`note: ${summary.note}`]),
  ]
  return `${lines.join('\n')}\n`
}
