import { formatBytes, formatDuration, formatRate, runStatuses } from '../../tasks/index.ts'
import type { RunStatus, TaskTreeNode } from '../../tasks/index.ts'
import { errorText, firstError, resultSize, taskName, transferredBytes } from './live-tree.ts'

const SYMBOL: Record<RunStatus, string> = {
  pending: '▸',
  success: '✔',
  failure: '✖',
  skipped: '○',
  interrupted: '!',
}

/** Width of a progress bar in cells. */
export const BAR_WIDTH = 20
/** Finished children of the job shown (collapsed, one line each) while the run goes on. */
export const RECENT_FINISHED = 3
/** Levels below the job drawn in a running subtree; deeper tasks are only counted. */
const MAX_FRAME_DEPTH = 8

/** What renderFrame needs besides the trees. */
export interface FrameOptions {
  /** Now, from the run's Clock: the elapsed time of running tasks and their rates. */
  readonly nowMs: number
  readonly columns: number
  /** Terminal height: a frame has at most `rows - 1` lines, so it never scrolls. */
  readonly rows: number
  /** The final frame: every finished child may be shown (still within the line cap). */
  readonly final?: boolean
}

/** `[████████░░░░░░░░░░░░]`: `done` of `total` as a bar of BAR_WIDTH cells. */
export function progressBar(done: number, total: number): string {
  const ratio = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0
  const full = Math.floor(ratio * BAR_WIDTH)
  return `[${'█'.repeat(full)}${'░'.repeat(BAR_WIDTH - full)}]`
}

function facts(node: TaskTreeNode, status: RunStatus, nowMs: number, collapsed: boolean): string[] {
  const running = node.status === 'pending'
  const durationMs = Math.max(0, (node.end ?? nowMs) - node.start)
  const out = [formatDuration(durationMs)]
  const progress = node.progress
  if (running && progress !== undefined) {
    const { done, total } = progress
    if (total !== undefined && total > 0) {
      const percent = Math.floor((100 * Math.min(done, total)) / total)
      out.push(`${progressBar(done, total)} ${percent}%`, `${formatBytes(done)}/${formatBytes(total)}`)
    } else out.push(formatBytes(done))
    out.push(formatRate(done, durationMs))
  }
  const own = resultSize(node)
  if (own !== undefined) out.push(formatBytes(own), formatRate(own, durationMs))
  else if (collapsed && transferredBytes(node) > 0) out.push(formatBytes(transferredBytes(node)))
  if (collapsed && status !== 'success' && status !== 'pending') {
    const failed = firstError(node)
    if (failed?.error !== undefined) out.push(errorText(failed.error, failed.status === 'skipped'))
    else if (status === 'interrupted') out.push('interrupted')
  }
  return out.filter((s) => s !== '')
}

/**
 * Cells a character takes: 2 for East Asian wide and fullwidth forms and most emoji (a VM named in
 * Japanese would otherwise wrap, and the wrapped line would break the count the next redraw moves
 * the cursor up by); 1 otherwise. An approximation of wcwidth on the common ranges.
 */
function cells(char: string): number {
  const code = char.codePointAt(0) ?? 0
  const wide =
    (code >= 0x1100 && code <= 0x115f) ||
    (code >= 0x2e80 && code <= 0xa4cf) ||
    (code >= 0xac00 && code <= 0xd7a3) ||
    (code >= 0xf900 && code <= 0xfaff) ||
    (code >= 0xfe30 && code <= 0xfe4f) ||
    (code >= 0xff00 && code <= 0xff60) ||
    (code >= 0xffe0 && code <= 0xffe6) ||
    (code >= 0x1f300 && code <= 0x1faff) ||
    (code >= 0x20000 && code <= 0x3fffd)
  return wide ? 2 : 1
}

/** `line` cut to `columns - 1` cells (some terminals wrap on the last column), ending with `…` when cut. */
export function fit(line: string, columns: number): string {
  const max = Math.max(1, columns - 1)
  let used = 0
  let out = ''
  for (const char of line) {
    const width = cells(char)
    if (used + width > max) {
      // Room for the ellipsis: drop characters until one cell is free.
      const cut = Array.from(out)
      while (cut.length > 0 && used + 1 > max) used -= cells(cut.pop() ?? '')
      return `${cut.join('')}…`
    }
    used += width
    out += char
  }
  return out
}

interface Item {
  readonly node: TaskTreeNode
  readonly depth: number
}

/** A running child and its subtree, in display order, walked iteratively (no text made yet). */
function subtree(child: TaskTreeNode): Item[] {
  const items: Item[] = []
  const stack: Item[] = [{ node: child, depth: 1 }]
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    items.push(item)
    if (item.depth >= MAX_FRAME_DEPTH) continue
    for (let i = item.node.tasks.length - 1; i >= 0; i--)
      stack.push({ node: item.node.tasks[i] as TaskTreeNode, depth: item.depth + 1 })
  }
  return items
}

function expandedText({ node, depth }: Item, statuses: ReadonlyMap<TaskTreeNode, RunStatus>, nowMs: number) {
  const status = statuses.get(node) ?? 'pending'
  const symbol = node.status === 'pending' ? SYMBOL.pending : SYMBOL[status]
  return `${'  '.repeat(depth)}${symbol} ${taskName(node)}  ${facts(node, status, nowMs, false).join('  ')}`
}

function collapsedText(node: TaskTreeNode, status: RunStatus, nowMs: number): string {
  return `  ${SYMBOL[status]} ${taskName(node)}  ${facts(node, status, nowMs, true).join('  ')}`
}

function header(root: TaskTreeNode, statuses: ReadonlyMap<TaskTreeNode, RunStatus>, nowMs: number): string {
  const counts = { running: 0, done: 0, failed: 0, skipped: 0, interrupted: 0 }
  for (const child of root.tasks) {
    const status = statuses.get(child) ?? 'pending'
    if (child.status === 'pending') counts.running++
    else if (status === 'success') counts.done++
    else if (status === 'failure') counts.failed++
    else if (status === 'skipped') counts.skipped++
    else counts.interrupted++
  }
  // The seed's `vms` info names every VM of the job: those not started yet are waiting.
  const planned = root.infos.find((info) => info.message === 'vms')?.data?.vms
  const waiting = Array.isArray(planned) ? Math.max(0, planned.length - root.tasks.length) : 0
  const allVms = root.tasks.length > 0 && root.tasks.every((t) => t.data?.type === 'VM')
  const parts = [...Object.entries(counts), ['waiting', waiting] as const]
    .filter(([, n]) => n > 0)
    .map(([word, n]) => `${n} ${word}`)
  const status = statuses.get(root) ?? 'pending'
  const own = [formatDuration(Math.max(0, (root.end ?? nowMs) - root.start))]
  const label = allVms || Array.isArray(planned) ? 'VMs' : 'tasks'
  if (parts.length > 0) own.push(`${label}: ${parts.join(', ')}`)
  return `${SYMBOL[status]} ${taskName(root)}  ${own.join('  ')}`
}

/** Finished children to show: failures first, then the most recent; listed in the order they ended. */
function pickFinished(
  finished: TaskTreeNode[],
  statuses: ReadonlyMap<TaskTreeNode, RunStatus>,
  count: number,
) {
  const rank = (n: TaskTreeNode) => (statuses.get(n) === 'success' ? 1 : 0)
  const chosen = [...finished]
    .sort((a, b) => rank(a) - rank(b) || (b.end ?? 0) - (a.end ?? 0))
    .slice(0, count)
  return chosen.sort((a, b) => (a.end ?? 0) - (b.end ?? 0) || a.start - b.start)
}

/**
 * The lines of one frame of the live view (no ANSI): per root, a header with its children's
 * counts, the most recent finished children collapsed to one line each (failures first), then every
 * running child expanded as an indented tree with progress bars and rates. At most `rows - 1`
 * lines, each cut to the width: what does not fit is summarised (`… N more running`).
 */
export function renderFrame(roots: readonly TaskTreeNode[], options: FrameOptions): string[] {
  const maxLines = Math.max(1, options.rows - 1)
  const lines: string[] = []
  for (const root of roots) {
    if (lines.length >= maxLines) break
    const statuses = runStatuses(root)
    lines.push(header(root, statuses, options.nowMs))
    const finished = root.tasks.filter((t) => t.status !== 'pending')
    const blocks = root.tasks.filter((t) => t.status === 'pending').map(subtree)
    const wanted = options.final === true ? finished.length : Math.min(RECENT_FINISHED, finished.length)
    let avail = maxLines - lines.length
    const placed: Item[] = []
    let placedBlocks = 0
    let cutTasks = 0
    if (wanted + blocks.reduce((sum, block) => sum + block.length, 0) > avail) {
      avail = Math.max(0, avail - 1) // the line saying what is not shown
    }
    // Whole subtrees while they fit; only a single subtree taller than the screen is cut.
    for (const block of blocks) {
      if (placed.length + block.length <= avail) {
        placed.push(...block)
        placedBlocks++
        continue
      }
      if (placedBlocks === 0 && avail > 0) {
        placed.push(...block.slice(0, avail))
        placedBlocks++
        cutTasks = block.length - avail
      }
      break
    }
    const finishedShown = Math.min(wanted, avail - placed.length)
    for (const child of pickFinished(finished, statuses, finishedShown))
      lines.push(collapsedText(child, statuses.get(child) ?? 'pending', options.nowMs))
    for (const item of placed) lines.push(expandedText(item, statuses, options.nowMs))
    const hiddenRunning = blocks.length - placedBlocks
    const hiddenFinished = options.final === true ? finished.length - finishedShown : 0
    const hidden = [
      ...(cutTasks > 0 ? [`${cutTasks} more tasks`] : []),
      ...(hiddenRunning > 0 ? [`${hiddenRunning} more running`] : []),
      ...(hiddenFinished > 0 ? [`${hiddenFinished} more finished`] : []),
    ]
    if (hidden.length > 0 && lines.length < maxLines) lines.push(`  … ${hidden.join(', ')}`)
  }
  return lines.map((line) => fit(line, options.columns))
}

/** Cursor up N lines: `ESC [ 0 A` moves one line on some terminals, so 0 writes nothing. */
function cursorUp(lines: number): string {
  return lines > 0 ? `\x1b[${lines}A` : ''
}

/**
 * The text that replaces the previous frame (`previousLines` tall, the cursor below it) with
 * `above` (lines that stay, such as warnings, scrolled above the view) followed by `frame`: cursor
 * up, each line cleared then written, and whatever remained of the old frame erased.
 */
export function redrawText(
  previousLines: number,
  above: readonly string[],
  frame: readonly string[],
): string {
  const body = [...above, ...frame].map((line) => `\r\x1b[2K${line}\n`).join('')
  return `${cursorUp(previousLines)}${body}\x1b[J`
}
