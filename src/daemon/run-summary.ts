// What a run's task tree says in a few numbers (issue 12): its status, bytes written to targets
// and one line per VM, for the run history, the dashboard, notifications and metrics.
import { serializeError } from '../shared/errors.ts'
import type { JsonObject } from '../shared/json.ts'
import type { TaskEvent } from '../tasks/events.ts'
import type { TaskTreeNode } from '../tasks/tree.ts'
import { buildTaskTrees, runStatuses } from '../tasks/tree.ts'
import type { RunState, RunVmSummary } from './model.ts'

/** The summary of a run's events. */
export interface RunSummary {
  readonly status: RunState
  readonly reason: string | null
  readonly sizeBytes: number
  readonly vms: readonly RunVmSummary[]
}

const messageOf = (error: JsonObject | undefined): string | undefined =>
  typeof error?.['message'] === 'string' ? error['message'] : undefined

/** Bytes written by every `transfer` task below `root` (their `result.size`), without recursion. */
function transferredBytes(root: TaskTreeNode): number {
  let total = 0
  const stack = [root]
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    const size = (node.result as JsonObject | undefined)?.['size']
    if (node.message === 'transfer' && typeof size === 'number' && Number.isFinite(size)) total += size
    stack.push(...node.tasks)
  }
  return total
}

/** The first failure message below `node` (depth first), for a one-line reason. */
function firstFailure(node: TaskTreeNode): string | undefined {
  const own = messageOf(node.error)
  if (own !== undefined) return own
  for (const child of node.tasks) {
    const found = child.status === 'failure' || child.error !== undefined ? firstFailure(child) : undefined
    if (found !== undefined) return found
  }
  return undefined
}

/**
 * Summarises the events of one run (`final`: the run is over, tasks without an end are
 * interrupted). No job in the events (it failed before starting) gives `failure` with `error`'s
 * message, or `interrupted` when the run was stopped.
 */
export function summarizeRun(
  events: readonly TaskEvent[],
  options: { final: boolean; error?: unknown; stopped?: boolean },
): RunSummary {
  const { roots } = buildTaskTrees(events, { final: options.final })
  const root = roots[0]
  if (root === undefined) {
    const status: RunState = options.stopped === true ? 'interrupted' : options.final ? 'failure' : 'running'
    const message = options.error === undefined ? undefined : serializeError(options.error)['message']
    const reason = typeof message === 'string' ? message : null
    return { status, reason, sizeBytes: 0, vms: [] }
  }
  const statuses = runStatuses(root)
  const computed = statuses.get(root) ?? 'pending'
  const vms: RunVmSummary[] = []
  for (const child of root.tasks) {
    const data = child.data ?? {}
    if (data['type'] !== 'VM' || typeof data['id'] !== 'string') continue
    const status = statuses.get(child) ?? 'pending'
    const error = status === 'failure' ? firstFailure(child) : undefined
    vms.push({
      uuid: data['id'],
      ...(typeof data['name_label'] === 'string' ? { name: data['name_label'] } : {}),
      status,
      ...(error === undefined ? {} : { error }),
    })
  }
  let status: RunState = computed === 'pending' ? 'running' : computed
  if (options.stopped === true && status !== 'success' && status !== 'skipped') status = 'interrupted'
  const reason =
    status === 'failure' || status === 'interrupted'
      ? (firstFailure(root) ?? (options.stopped === true ? 'stopped by the server' : null))
      : status === 'skipped'
        ? (messageOf(root.result as JsonObject | undefined) ?? null)
        : null
  return { status, reason, sizeBytes: transferredBytes(root), vms }
}
