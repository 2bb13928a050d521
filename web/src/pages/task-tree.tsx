// A run's task tree: nested tasks with status icons, durations, progress bars (percent and
// rate), warnings and errors. Test hooks: the root is `task-root`, every other node `task-node`,
// both with `data-status` (the status reports compute: pending, success, failure, skipped,
// interrupted) and `data-own-status` (the task's own end).
import { useState } from 'preact/hooks'
import type { Json, JsonObject } from '../../../src/shared/json.ts'
import type { RunStatus } from '../../../src/tasks/tree.ts'
import { runStatuses } from '../../../src/tasks/tree.ts'
import { elapsed, formatBytes, formatDuration, formatRate, percent, shortId } from '../format.ts'
import type { RateTracker } from '../rates.ts'
import { averageRate } from '../rates.ts'
import type { TaskTreeNode } from '../types.ts'
import { StatusIcon } from '../ui/status.tsx'

/** What node titles need to name things: VM names and remote names by id. */
export interface TreeNames {
  readonly vms: ReadonlyMap<string, string>
  readonly remotes: ReadonlyMap<string, string>
}

interface Context {
  readonly statuses: Map<TaskTreeNode, RunStatus>
  readonly rates: RateTracker
  readonly names: TreeNames
  readonly now: number
}

const str = (value: Json | undefined): string | undefined => (typeof value === 'string' ? value : undefined)

/** The node's headline and a detail to its right. */
export function describeNode(node: TaskTreeNode, names: TreeNames): { title: string; detail: string } {
  const data: JsonObject = node.data ?? {}
  const id = str(data.id)
  if (node.kind === 'job') {
    const mode = str(data.mode)
    return { title: mode === undefined ? 'Backup job' : `Backup job (${mode})`, detail: '' }
  }
  if (data.type === 'VM' && id !== undefined)
    return { title: names.vms.get(id) ?? `VM ${shortId(id)}`, detail: node.message ?? 'VM' }
  if (node.message === 'export' && id !== undefined) {
    const target =
      data.type === 'remote' ? (names.remotes.get(id) ?? `remote ${shortId(id)}`) : `SR ${shortId(id)}`
    return {
      title: `export → ${target}`,
      detail: data.isFull === true ? 'full' : data.isFull === false ? 'delta' : '',
    }
  }
  return { title: node.message ?? 'task', detail: id === undefined ? '' : shortId(id) }
}

function Progress({ node, ctx }: { readonly node: TaskTreeNode; readonly ctx: Context }) {
  const progress = node.progress
  if (progress === undefined) return null
  const live = node.status === 'pending'
  const rate = live ? ctx.rates.rate(node.id) : averageRate(progress.done, node.start, node.end ?? node.start)
  const total = progress.total
  const pct = total === undefined ? undefined : percent(progress.done, total)
  const amount =
    total === undefined
      ? formatBytes(progress.done)
      : `${formatBytes(progress.done)} of ${formatBytes(total)}`
  return (
    <div class="progress-line" data-testid="task-progress">
      {/* An ended task of unknown total has no bar: an indeterminate one would slide forever. */}
      {pct === undefined && !live ? null : (
        <div
          class={pct === undefined ? 'progress indeterminate' : 'progress'}
          role="progressbar"
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={pct}
        >
          <div class="progress-fill" style={{ width: `${pct ?? 100}%` }} />
        </div>
      )}
      <span class="progress-text">
        {pct === undefined ? '' : <strong>{pct}%</strong>} {amount}
        {formatRate(rate) === '' ? '' : ` · ${formatRate(rate)}${live ? '' : ' avg'}`}
      </span>
    </div>
  )
}

function Messages({ node }: { readonly node: TaskTreeNode }) {
  const error = node.error
  const size =
    typeof node.result === 'object' && node.result !== null && !Array.isArray(node.result)
      ? (node.result as JsonObject).size
      : undefined
  return (
    <>
      {typeof size === 'number' ? <div class="task-note muted">{formatBytes(size)} written</div> : null}
      {node.warnings.map((w, i) => (
        <div key={`w${i}`} class="task-note warn" data-testid="task-warning">
          ⚠ {w.message}
        </div>
      ))}
      {error === undefined ? null : (
        <details class="task-note bad" data-testid="task-error">
          <summary>
            {str(error.message) ?? 'error'}
            {str(error.code) === undefined ? null : <code class="code-tag">{str(error.code)}</code>}
          </summary>
          <pre>{JSON.stringify(error, null, 2)}</pre>
        </details>
      )}
      {node.infos.length === 0 ? null : (
        <details class="task-note muted">
          <summary>{node.infos.length === 1 ? '1 info' : `${node.infos.length} infos`}</summary>
          {node.infos.map((info, i) => (
            <div key={`i${i}`} class="info-line">
              {info.message}
              {info.data === undefined ? '' : ` ${JSON.stringify(info.data)}`}
            </div>
          ))}
        </details>
      )}
    </>
  )
}

function TaskNode({
  node,
  ctx,
  depth,
}: {
  readonly node: TaskTreeNode
  readonly ctx: Context
  readonly depth: number
}) {
  const status = ctx.statuses.get(node) ?? 'pending'
  const [open, setOpen] = useState(depth < 2 || status !== 'success')
  const { title, detail } = describeNode(node, ctx.names)
  const hasChildren = node.tasks.length > 0
  return (
    <li
      class={`task task-${status}`}
      data-testid={depth === 0 ? 'task-root' : 'task-node'}
      data-status={status}
      data-own-status={node.status}
      data-task-id={node.id}
    >
      <div class="task-row">
        {hasChildren ? (
          <button
            type="button"
            class="toggle"
            aria-expanded={open}
            aria-label={open ? 'Collapse' : 'Expand'}
            onClick={() => {
              setOpen(!open)
            }}
          >
            {open ? '▾' : '▸'}
          </button>
        ) : (
          <span class="toggle-space" />
        )}
        <StatusIcon status={status} />
        <span class="task-title">{title}</span>
        {detail === '' ? null : <span class="task-detail muted">{detail}</span>}
        {hasChildren && !open ? (
          <span class="task-detail muted">
            · {node.tasks.length === 1 ? '1 subtask' : `${node.tasks.length} subtasks`}
          </span>
        ) : null}
        <span class="task-time muted">{formatDuration(elapsed(node.start, node.end, ctx.now))}</span>
      </div>
      <div class="task-body">
        <Progress node={node} ctx={ctx} />
        <Messages node={node} />
      </div>
      {hasChildren && open ? (
        <ul class="task-children">
          {node.tasks.map((child) => (
            <TaskNode key={child.id} node={child} ctx={ctx} depth={depth + 1} />
          ))}
        </ul>
      ) : null}
    </li>
  )
}

/** Props of TaskTree. */
export interface TaskTreeProps {
  readonly roots: readonly TaskTreeNode[]
  readonly rates: RateTracker
  readonly names: TreeNames
  readonly now: number
}

/** The trees of a run (usually one root). */
export function TaskTree({ roots, rates, names, now }: TaskTreeProps) {
  return (
    <ul class="task-tree" data-testid="task-tree">
      {roots.map((root) => (
        <TaskNode
          key={root.id}
          node={root}
          ctx={{ statuses: runStatuses(root), rates, names, now }}
          depth={0}
        />
      ))}
    </ul>
  )
}
