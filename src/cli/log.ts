import type { Command } from 'commander'
import {
  buildTaskTrees,
  countDescendants,
  MAX_RENDER_DEPTH,
  readTaskLog,
  renderTaskTree,
  runStatuses,
} from '../tasks/index.ts'
import type { RunStatus, TaskTreeNode } from '../tasks/index.ts'
import type { CliIo } from './io.ts'
import { CliExit } from './io.ts'

type StatusTree = Omit<TaskTreeNode, 'tasks'> & {
  runStatus: RunStatus
  tasks: StatusTree[]
  /** Set where deeper tasks were cut (MAX_RENDER_DEPTH): how many there are below. */
  nestedTasksNotShown?: number
}

/** Skipped lines printed one by one before the rest are only counted. */
const MAX_REJECTIONS_SHOWN = 20

/**
 * The tree with each node's run status, cut below MAX_RENDER_DEPTH like the text rendering (a log
 * chaining 100,000 tasks would overflow JSON.stringify's stack); statuses cover the whole tree.
 */
function withRunStatus(
  node: TaskTreeNode,
  statuses: ReadonlyMap<TaskTreeNode, RunStatus>,
  depth = 0,
): StatusTree {
  const runStatus = statuses.get(node) ?? 'pending'
  if (depth >= MAX_RENDER_DEPTH && node.tasks.length > 0)
    return { ...node, runStatus, tasks: [], nestedTasksNotShown: countDescendants(node) }
  return { ...node, runStatus, tasks: node.tasks.map((child) => withRunStatus(child, statuses, depth + 1)) }
}

/** Registers `log show <file>`: renders a JSONL task log as a tree (`--json` for the rebuilt tree). */
export function registerLogCommands(program: Command, io: CliIo): void {
  const log = program.command('log').description('read task logs')
  log
    .command('show')
    .description(
      'render a JSONL task log as a tree; unfinished tasks show as interrupted, secrets are redacted',
    )
    .argument('<file>', 'a .jsonl task log')
    .option('--json', 'print the rebuilt tree as JSON, each node with its computed runStatus')
    .action(async (file: string, options: { json?: boolean }) => {
      // Redacted and depth-bounded on read; a file that is not a log stops early (TASK_LOG_INVALID).
      const { events, rejected } = await readTaskLog(file)
      const { roots, orphans } = buildTaskTrees(events, { final: true })
      if (options.json === true) {
        const trees = roots.map((root) => withRunStatus(root, runStatuses(root)))
        io.out(`${JSON.stringify({ roots: trees, orphans, rejected }, null, 2)}\n`)
        return
      }
      for (const { line, reason } of rejected.slice(0, MAX_REJECTIONS_SHOWN))
        io.err(`warning: ${file}:${line}: skipped: ${reason}\n`)
      if (rejected.length > MAX_REJECTIONS_SHOWN)
        io.err(`warning: ${file}: ${rejected.length - MAX_REJECTIONS_SHOWN} more line(s) skipped\n`)
      if (orphans.length > 0) io.err(`warning: ${orphans.length} event(s) name a task that never started\n`)
      if (roots.length === 0) throw new CliExit(1, `${file}: no task in this log`)
      io.out(roots.map((root) => renderTaskTree(root)).join('\n'))
    })
}
