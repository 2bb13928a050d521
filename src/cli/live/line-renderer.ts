import type { JsonObject } from '../../shared/json.ts'
import { formatBytes, formatDuration, formatRate, runStatus } from '../../tasks/index.ts'
import type { TaskEvent, TaskTreeNode } from '../../tasks/index.ts'
import type { LiveTree } from './live-tree.ts'
import { errorFromChild, errorText, printable, resultSize, taskPath, transferredBytes } from './live-tree.ts'

const MAX_VALUE_CHARS = 60

function describeData(data: JsonObject | undefined): string {
  if (data === undefined) return ''
  // The seed's `vms` info lists every VM of the job: its count says enough on one line.
  const vms = data.vms
  if (Array.isArray(vms) && Object.keys(data).length === 1)
    return ` (${vms.length} VM${vms.length === 1 ? '' : 's'})`
  const parts = Object.entries(data).map(([key, value]) => {
    const text = typeof value === 'string' ? value : JSON.stringify(value)
    return `${printable(key)}=${printable(text, MAX_VALUE_CHARS)}`
  })
  return parts.length === 0 ? '' : ` ${parts.join(' ')}`
}

/** `done 3.00 GiB in 6.0 s (512.00 MiB/s)`: size and rate for a step with a size, size of the transfers below for a VM. */
function doneText(node: TaskTreeNode, durationMs: number): string {
  const own = resultSize(node)
  const size = own ?? (node.tasks.length > 0 ? transferredBytes(node) : 0)
  const duration = formatDuration(durationMs)
  if (size <= 0 && own === undefined) return `done in ${duration}`
  const rate = own === undefined ? '' : formatRate(own, durationMs)
  return `done ${formatBytes(size)} in ${duration}${rate === '' ? '' : ` (${rate})`}`
}

function endText(node: TaskTreeNode, e: Extract<TaskEvent, { event: 'task.end' | 'job.end' }>): string {
  const durationMs = Math.max(0, e.timestamp - node.start)
  if (node.kind === 'job') {
    // The job's own end is `success` even when a VM failed: the run status is what matters.
    const bytes = transferredBytes(node)
    const moved = bytes > 0 ? `, ${formatBytes(bytes)} transferred` : ''
    const why = e.error === undefined || errorFromChild(node) ? '' : `: ${errorText(e.error)}`
    return `ended in ${formatDuration(durationMs)}${moved}: ${runStatus(node)}${why}`
  }
  if (e.status === 'success') return doneText(node, durationMs)
  const error = e.error
  if (e.status === 'skipped') return `skipped${error === undefined ? '' : `: ${errorText(error, true)}`}`
  const failed = `failed in ${formatDuration(durationMs)}`
  // A parent rethrowing its child's error: the child's line already said it.
  return error === undefined || errorFromChild(node) ? failed : `${failed}: ${errorText(error)}`
}

/** Deciles of progress between two lines: at most ten progress lines per task. */
const STEPS = 10

/**
 * Plain-mode rendering (stdout not a terminal): one line per notable event, no ANSI, each naming
 * its task by path (`VM web-01 > export remote nas > transfer: done 1.20 GiB in 14.0 s (…)`):
 * starts, ends with status, duration and size, infos, warnings, and progress at most every 10%.
 */
export class LineRenderer {
  readonly #tree: LiveTree
  /** The last decile printed per running task; dropped at its end so that memory stays bounded. */
  readonly #decile = new Map<string, number>()

  constructor(tree: LiveTree) {
    this.#tree = tree
  }

  /** The line for `e` (already applied to the tree as `node`), or undefined when it is not notable. */
  line(e: TaskEvent, node: TaskTreeNode | undefined): string | undefined {
    if (node === undefined) return undefined
    const path = taskPath(this.#tree, node)
    switch (e.event) {
      case 'job.start':
      case 'task.start':
        return `${path}: started`
      case 'job.end':
      case 'task.end':
        this.#decile.delete(node.id)
        return `${path}: ${endText(node, e)}`
      case 'task.info':
        return `${path}: info: ${printable(e.message, 200)}${describeData(e.data)}`
      case 'task.warning':
        return `${path}: warning: ${printable(e.message, 200)}${describeData(e.data)}`
      case 'task.progress':
        return this.#progress(path, node, e)
    }
  }

  #progress(path: string, node: TaskTreeNode, e: Extract<TaskEvent, { event: 'task.progress' }>) {
    const total = node.progress?.total
    if (total === undefined || total <= 0 || node.status !== 'pending') return undefined
    const done = Math.min(Math.max(0, node.progress?.done ?? 0), total)
    const decile = Math.floor((done * STEPS) / total)
    if (decile <= (this.#decile.get(node.id) ?? 0)) return undefined
    this.#decile.set(node.id, decile)
    const rate = formatRate(done, e.timestamp - node.start)
    const of = `${formatBytes(done)} of ${formatBytes(total)}${rate === '' ? '' : `, ${rate}`}`
    return `${path}: ${(decile * 100) / STEPS}% (${of})`
  }
}
