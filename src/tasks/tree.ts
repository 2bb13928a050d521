import type { Json, JsonObject } from '../shared/json.ts'
import type { EndStatus, TaskEvent } from './events.ts'

/** A task's status in a rebuilt tree: its own end status, or why it has none. */
export type NodeStatus = EndStatus | 'pending' | 'interrupted'

/** An info or warning line of a task. */
export interface LogEntry {
  readonly timestamp: number
  readonly message: string
  readonly data?: JsonObject
}

/** A task (or the job, `kind: 'job'`) rebuilt from events, with its children in start order. */
export interface TaskTreeNode {
  readonly kind: 'job' | 'task'
  readonly id: string
  readonly parentId?: string
  readonly message?: string
  readonly data?: JsonObject
  readonly start: number
  end?: number
  /** The task's own outcome; `pending`/`interrupted` when no end was recorded. */
  status: NodeStatus
  result?: Json
  error?: JsonObject
  progress?: { readonly done: number; readonly total?: number }
  readonly infos: LogEntry[]
  readonly warnings: LogEntry[]
  readonly tasks: TaskTreeNode[]
}

/** Options of buildTaskTrees. */
export interface BuildOptions {
  /**
   * True when the log is complete (read after the writer stopped or crashed): tasks without an end
   * become `interrupted`. False for a live view: they stay `pending`. Default true.
   */
  readonly final?: boolean
}

/** The trees of a log, plus events that could not be placed (they name an unknown task). */
export interface TaskForest {
  readonly roots: TaskTreeNode[]
  readonly orphans: TaskEvent[]
}

function newNode(kind: 'job' | 'task', e: { id: string; timestamp: number }, extra: Partial<TaskTreeNode>) {
  const node: TaskTreeNode = {
    kind,
    id: e.id,
    start: e.timestamp,
    status: 'pending',
    infos: [],
    warnings: [],
    tasks: [],
    ...extra,
  }
  return node
}

function entry(e: { timestamp: number; message: string; data?: JsonObject }): LogEntry {
  return e.data === undefined
    ? { timestamp: e.timestamp, message: e.message }
    : { timestamp: e.timestamp, message: e.message, data: e.data }
}

/** Rebuilds the seed's tree(s) from events in the order they were written. */
export function buildTaskTrees(events: Iterable<TaskEvent>, options: BuildOptions = {}): TaskForest {
  const byId = new Map<string, TaskTreeNode>()
  const roots: TaskTreeNode[] = []
  const orphans: TaskEvent[] = []
  for (const e of events) {
    if (e.event === 'job.start' || e.event === 'task.start') {
      const parent = e.event === 'task.start' && e.parentId !== undefined ? byId.get(e.parentId) : undefined
      if (byId.has(e.id) || (e.event === 'task.start' && e.parentId !== undefined && parent === undefined)) {
        orphans.push(e)
        continue
      }
      const node =
        e.event === 'job.start'
          ? newNode('job', e, { data: e.data })
          : newNode('task', e, {
              ...(e.parentId === undefined ? {} : { parentId: e.parentId }),
              ...(e.message === undefined ? {} : { message: e.message }),
              ...(e.data === undefined ? {} : { data: e.data }),
            })
      byId.set(e.id, node)
      ;(parent?.tasks ?? roots).push(node)
      continue
    }
    const node = byId.get(e.id)
    if (node === undefined) {
      orphans.push(e)
      continue
    }
    switch (e.event) {
      case 'job.end':
      case 'task.end':
        node.end = e.timestamp
        node.status = e.status
        if (e.error !== undefined) node.error = e.error
        if (e.event === 'task.end' && e.result !== undefined) node.result = e.result
        break
      case 'task.info':
        node.infos.push(entry(e))
        break
      case 'task.warning':
        node.warnings.push(entry(e))
        break
      case 'task.progress':
        node.progress = e.total === undefined ? { done: e.done } : { done: e.done, total: e.total }
        break
    }
  }
  if (options.final ?? true) {
    for (const node of byId.values()) if (node.status === 'pending') node.status = 'interrupted'
  }
  return { roots, orphans }
}

/** The status of a whole run (or any subtree) computed from the tree, as reports show it. */
export type RunStatus = 'success' | 'failure' | 'skipped' | 'interrupted' | 'pending'

/** The key of an attempt: retries of one step share their message and data. */
function attemptKey(node: TaskTreeNode): string {
  return `${node.message ?? ''}\0${JSON.stringify(node.data ?? null)}`
}

/** The failed children that a later sibling with the same message and data retried with success. */
function supersededChildren(node: TaskTreeNode): Set<TaskTreeNode> {
  const out = new Set<TaskTreeNode>()
  const succeededLater = new Set<string>()
  // One pass from the last child back: linear in the number of siblings, however many there are.
  for (let i = node.tasks.length - 1; i >= 0; i--) {
    const child = node.tasks[i] as TaskTreeNode
    if (child.status === 'failure' && succeededLater.has(attemptKey(child))) out.add(child)
    if (child.status === 'success') succeededLater.add(attemptKey(child))
  }
  return out
}

function combine(own: NodeStatus, children: readonly RunStatus[]): RunStatus {
  if (own === 'pending' || children.includes('pending')) return 'pending'
  if (own === 'interrupted' || children.includes('interrupted')) return 'interrupted'
  if (own === 'failure' || children.includes('failure')) return 'failure'
  if (own === 'skipped') return 'skipped'
  if (children.length > 0 && children.every((s) => s === 'skipped')) return 'skipped'
  return 'success'
}

/**
 * The run status of `root` and of every node below it, computed in one iterative post-order walk
 * (a log can chain tasks 100,000 deep: recursion would overflow the stack). Rules: see runStatus.
 */
export function runStatuses(root: TaskTreeNode): Map<TaskTreeNode, RunStatus> {
  const out = new Map<TaskTreeNode, RunStatus>()
  const stack: { node: TaskTreeNode; expanded: boolean }[] = [{ node: root, expanded: false }]
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const { node } = item
    if (out.has(node)) continue
    if (!item.expanded) {
      stack.push({ node, expanded: true })
      for (const child of node.tasks) stack.push({ node: child, expanded: false })
      continue
    }
    const superseded = supersededChildren(node)
    const children = node.tasks
      .filter((child) => !superseded.has(child))
      .map((child) => out.get(child) ?? 'pending')
    out.set(node, combine(node.status, children))
  }
  return out
}

/**
 * Status rules (docs/design.md "Task log"): pending or interrupted anywhere wins (a live or crashed
 * run); then failure if the node or any descendant failed, unless the failed step was retried
 * with success; then skipped if the node was skipped, or ended well but every child was skipped
 * (nothing was done); otherwise success. Warnings never change the status. Iterative (runStatuses).
 */
export function runStatus(node: TaskTreeNode): RunStatus {
  return runStatuses(node).get(node) ?? 'pending'
}

/** How many tasks are below `node` (all depths), counted without recursion. */
export function countDescendants(node: TaskTreeNode): number {
  let count = 0
  const stack: TaskTreeNode[] = node.tasks.slice()
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    count++
    // A loop, not push(...tasks): spreading 100,000 children would overflow the stack.
    for (const child of next.tasks) stack.push(child)
  }
  return count
}
