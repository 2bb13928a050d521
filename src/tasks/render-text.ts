import type { Json, JsonObject } from '../shared/json.ts'
import { formatBytes, formatDuration, formatRate, jsonText } from './format.ts'
import type { LogEntry, NodeStatus, TaskTreeNode } from './tree.ts'
import { countDescendants, runStatus } from './tree.ts'

const ICON: Record<NodeStatus, string> = {
  success: '✔',
  failure: '✖',
  skipped: '○',
  interrupted: '⚡',
  pending: '…',
}

const MAX_VALUE_CHARS = 60

function short(value: Json): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value)
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS - 1)}…` : text
}

function describeData(data: JsonObject | undefined, skip: readonly string[]): string {
  if (data === undefined) return ''
  return Object.entries(data)
    .filter(([key]) => !skip.includes(key))
    .map(([key, value]) => `${key}=${short(value)}`)
    .join(' ')
}

/** The one-line title of a node: the seed's message, or `<type> <id>` for VM-like tasks. */
function title(node: TaskTreeNode): string {
  if (node.kind === 'job') return ['job', describeData(node.data, [])].filter(Boolean).join(' ')
  const { type, id } = node.data ?? {}
  const subject = typeof type === 'string' ? `${type}${typeof id === 'string' ? ` ${id}` : ''}` : ''
  const head = [node.message, subject].filter((s) => s !== undefined && s !== '').join(' ')
  const rest = describeData(node.data, subject === '' ? [] : ['type', 'id'])
  return [head === '' ? 'task' : head, rest].filter(Boolean).join(' ')
}

function sizeOf(node: TaskTreeNode): number | undefined {
  const result = node.result
  if (typeof result !== 'object' || result === null || Array.isArray(result)) return undefined
  const size = (result as JsonObject).size
  return typeof size === 'number' ? size : undefined
}

function facts(node: TaskTreeNode, nowMs: number | undefined): string[] {
  const out: string[] = []
  const end = node.end ?? (node.status === 'pending' ? nowMs : undefined)
  const durationMs = end === undefined ? undefined : end - node.start
  if (durationMs !== undefined) out.push(formatDuration(durationMs))
  const size = sizeOf(node)
  if (size !== undefined) {
    out.push(formatBytes(size))
    if (durationMs !== undefined && durationMs > 0) out.push(formatRate(size, durationMs))
  }
  if (node.status === 'pending' && node.progress?.total !== undefined && node.progress.total > 0) {
    out.push(`${Math.floor((100 * node.progress.done) / node.progress.total)}%`)
  }
  if (node.status !== 'success') out.push(`[${node.status}]`)
  return out
}

function entryLine(icon: string, entry: LogEntry): string {
  const data = entry.data === undefined ? '' : ` ${short(entry.data)}`
  return `${icon} ${entry.message}${data}`
}

function errorLine(node: TaskTreeNode, error: JsonObject): string {
  if (node.status === 'skipped') return `reason: ${jsonText(error.message)}`
  const code = error.code === undefined ? '' : ` [${jsonText(error.code)}]`
  const cause = error.cause as JsonObject | undefined
  const because = cause?.message === undefined ? '' : ` (cause: ${jsonText(cause.message)})`
  return `error: ${jsonText(error.message)}${code}${because}`
}

/**
 * Tasks nested deeper than this are summarised in one line: real runs nest 4–6 levels (job, VM,
 * remote, step), and a hostile log chaining 100,000 tasks would otherwise print a 300,000-column
 * prefix per line and recurse that deep.
 */
export const MAX_RENDER_DEPTH = 32

function renderNode(
  node: TaskTreeNode,
  prefix: string,
  isLast: boolean,
  depth: number,
  lines: string[],
  nowMs?: number,
) {
  const isRoot = depth === 0
  const branch = isRoot ? '' : isLast ? '└─ ' : '├─ '
  lines.push(`${prefix}${branch}${ICON[node.status]} ${[title(node), ...facts(node, nowMs)].join('  ')}`)
  const childPrefix = isRoot ? '' : `${prefix}${isLast ? '   ' : '│  '}`
  const detail = node.tasks.length > 0 ? `${childPrefix}│ ` : `${childPrefix}  `
  for (const info of node.infos) lines.push(`${detail}${entryLine('ℹ', info)}`)
  for (const warning of node.warnings) lines.push(`${detail}${entryLine('⚠', warning)}`)
  // An error rethrown from a failed child is shown once, where it happened.
  const error = node.error
  const fromChild =
    error !== undefined && node.tasks.some((t) => JSON.stringify(t.error) === JSON.stringify(error))
  if (error !== undefined && !fromChild) lines.push(`${detail}${errorLine(node, error)}`)
  if (depth >= MAX_RENDER_DEPTH && node.tasks.length > 0) {
    const hidden = countDescendants(node)
    lines.push(
      `${childPrefix}└─ … ${hidden} task${hidden > 1 ? 's' : ''} nested deeper than ${MAX_RENDER_DEPTH} levels not shown (counted in the status)`,
    )
    return
  }
  node.tasks.forEach((child, i) => {
    renderNode(child, childPrefix, i === node.tasks.length - 1, depth + 1, lines, nowMs)
  })
}

function countWarnings(root: TaskTreeNode): number {
  let count = 0
  const stack = [root]
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    count += node.warnings.length
    for (const child of node.tasks) stack.push(child)
  }
  return count
}

/**
 * Renders a tree as text for the CLI: one line per task with status icon, title, duration, and
 * size + throughput when the result has a `size`; infos, warnings and errors under their task;
 * then a summary line with the run status. `nowMs` gives running tasks their elapsed time. Tasks
 * deeper than MAX_RENDER_DEPTH are summarised in one line; the status and the warning count
 * still cover the whole tree (computed without recursion).
 */
export function renderTaskTree(root: TaskTreeNode, options: { nowMs?: number } = {}): string {
  const lines: string[] = []
  renderNode(root, '', true, 0, lines, options.nowMs)
  const warnings = countWarnings(root)
  const end = root.end === undefined ? '' : ` in ${formatDuration(root.end - root.start)}`
  lines.push(
    `status: ${runStatus(root)}${end}${warnings > 0 ? `, ${warnings} warning${warnings > 1 ? 's' : ''}` : ''}`,
  )
  return `${lines.join('\n')}\n`
}
