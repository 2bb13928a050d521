import type { Json, JsonObject } from '../../shared/json.ts'
import type { TaskEvent } from '../../tasks/index.ts'
import type { LogEntry, TaskTreeNode } from '../../tasks/index.ts'

/**
 * Infos and warnings kept per task for the live view: a task that warns once per block would
 * otherwise grow the view without bound; the JSONL log keeps them all, and `warnings` counts them.
 */
export const MAX_ENTRIES_PER_TASK = 20

function entry(e: { timestamp: number; message: string; data?: JsonObject }): LogEntry {
  return e.data === undefined
    ? { timestamp: e.timestamp, message: e.message }
    : { timestamp: e.timestamp, message: e.message, data: e.data }
}

/**
 * The task tree of a run, built one event at a time with the rules of buildTaskTrees (an event
 * naming an unknown task, or a second start of a known one, is an orphan and changes nothing), so
 * that a frame costs no re-reading of every event written so far.
 */
export class LiveTree {
  readonly roots: TaskTreeNode[] = []
  readonly #byId = new Map<string, TaskTreeNode>()
  /** Events that named a task that never started (or restarted one). */
  orphans = 0
  /** Every warning seen, including those beyond MAX_ENTRIES_PER_TASK. */
  warnings = 0

  /** Applies `e`; returns the node it is about, or undefined for an orphan. */
  apply(e: TaskEvent): TaskTreeNode | undefined {
    if (e.event === 'job.start' || e.event === 'task.start') return this.#start(e)
    const node = this.#byId.get(e.id)
    if (node === undefined) {
      this.orphans++
      return undefined
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
        if (node.infos.length < MAX_ENTRIES_PER_TASK) node.infos.push(entry(e))
        break
      case 'task.warning':
        this.warnings++
        if (node.warnings.length < MAX_ENTRIES_PER_TASK) node.warnings.push(entry(e))
        break
      case 'task.progress':
        // Our own Task API sends numbers; NaN or Infinity would still draw a nonsense bar.
        if (!Number.isFinite(e.done)) break
        node.progress =
          e.total === undefined || !Number.isFinite(e.total)
            ? { done: e.done }
            : { done: e.done, total: e.total }
        break
    }
    return node
  }

  #start(e: Extract<TaskEvent, { event: 'job.start' | 'task.start' }>): TaskTreeNode | undefined {
    const parentId = e.event === 'task.start' ? e.parentId : undefined
    const parent = parentId === undefined ? undefined : this.#byId.get(parentId)
    if (this.#byId.has(e.id) || (parentId !== undefined && parent === undefined)) {
      this.orphans++
      return undefined
    }
    const node: TaskTreeNode = {
      kind: e.event === 'job.start' ? 'job' : 'task',
      id: e.id,
      start: e.timestamp,
      status: 'pending',
      infos: [],
      warnings: [],
      tasks: [],
      ...(parentId === undefined ? {} : { parentId }),
      ...(e.event === 'task.start' && e.message !== undefined ? { message: e.message } : {}),
      ...(e.data === undefined ? {} : { data: e.data }),
    }
    this.#byId.set(e.id, node)
    ;(parent?.tasks ?? this.roots).push(node)
    return node
  }

  /** The parent of `node`, if it has one. */
  parentOf(node: TaskTreeNode): TaskTreeNode | undefined {
    return node.parentId === undefined ? undefined : this.#byId.get(node.parentId)
  }

  /** Marks every unfinished task `interrupted`, as buildTaskTrees does for a complete log. */
  finalize(): void {
    for (const node of this.#byId.values()) if (node.status === 'pending') node.status = 'interrupted'
  }
}

// C0 and C1 controls (ESC, CR, newline…): a name from XAPI could otherwise move the cursor,
// recolour the terminal or forge a line of output. Matching them is the point of this regex.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g
const MAX_NAME_CHARS = 80

/** `text` made safe to print on one line: control characters replaced, at most `max` characters. */
export function printable(text: string, max = MAX_NAME_CHARS): string {
  const chars = Array.from(text.replace(CONTROL, '\uFFFD'))
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : chars.join('')
}

function str(value: Json | undefined): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined
}

/**
 * The display name of a task: `job <mode>` for the job, `VM <name_label or id>` for a VM,
 * `<message> <type> <id>` for an export (`export remote nas`), else the message (`transfer`).
 */
export function taskName(node: TaskTreeNode): string {
  const data = node.data ?? {}
  if (node.kind === 'job') return printable(['job', str(data.mode)].filter(Boolean).join(' '))
  const type = str(data.type)
  const label = type === 'VM' ? (str(data.name_label) ?? str(data.id)) : str(data.id)
  const subject = type === undefined ? undefined : [type, label].filter(Boolean).join(' ')
  const name = [node.message, subject].filter((s) => s !== undefined && s !== '').join(' ')
  return printable(name === '' ? 'task' : name)
}

/** Ancestors shown in a path at most: our trees are 4 deep, a path longer than this is cut. */
const MAX_PATH_PARTS = 8

/** `VM web-01 > export remote nas > transfer`: the names from below the job down to `node`. */
export function taskPath(tree: LiveTree, node: TaskTreeNode): string {
  const parts: string[] = []
  let cut = false
  for (let at: TaskTreeNode | undefined = node; at !== undefined; at = tree.parentOf(at)) {
    if (at.kind === 'job' && at !== node) break
    if (parts.length === MAX_PATH_PARTS) {
      cut = true
      break
    }
    parts.push(taskName(at))
  }
  if (cut) parts.push('…')
  return parts.reverse().join(' > ')
}

/** The `size` of a task's result (transfer, merge), when it is a finite number. */
export function resultSize(node: TaskTreeNode): number | undefined {
  const result = node.result
  if (typeof result !== 'object' || result === null || Array.isArray(result)) return undefined
  const size = (result as JsonObject).size
  return typeof size === 'number' && Number.isFinite(size) && size >= 0 ? size : undefined
}

/** Bytes moved by the successful `transfer` tasks under `node` (itself included), walked iteratively. */
export function transferredBytes(node: TaskTreeNode): number {
  let total = 0
  const stack = [node]
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    if (next.message === 'transfer' && next.status === 'success') total += resultSize(next) ?? 0
    for (const child of next.tasks) stack.push(child)
  }
  return total
}

/** True when `node`'s error is the one a failed child already reported (rethrown up the tree). */
export function errorFromChild(node: TaskTreeNode): boolean {
  const error = node.error
  if (error === undefined) return false
  const text = JSON.stringify(error)
  return node.tasks.some((t) => t.error !== undefined && JSON.stringify(t.error) === text)
}

/** One line for an error: `message [CODE] (cause: …)`, or the reason alone for a skip. */
export function errorText(error: JsonObject, skipped = false): string {
  const message = printable(
    typeof error.message === 'string' ? error.message : JSON.stringify(error.message ?? null),
    200,
  )
  if (skipped) return message
  const code = typeof error.code === 'string' ? ` [${printable(error.code)}]` : ''
  const cause = error.cause
  const causeMessage =
    typeof cause === 'object' && cause !== null && !Array.isArray(cause)
      ? (cause as JsonObject).message
      : undefined
  const because = typeof causeMessage === 'string' ? ` (cause: ${printable(causeMessage, 120)})` : ''
  return `${message}${code}${because}`
}

/** The first error recorded in `node`'s subtree, depth first, where it happened (for a collapsed line). */
export function firstError(node: TaskTreeNode): TaskTreeNode | undefined {
  const stack = [node]
  let found: TaskTreeNode | undefined
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    if (next.error !== undefined && !errorFromChild(next)) return next
    if (next.error !== undefined) found ??= next
    for (let i = next.tasks.length - 1; i >= 0; i--) stack.push(next.tasks[i] as TaskTreeNode)
  }
  return found
}
