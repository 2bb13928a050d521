import type { Command } from 'commander'
import { buildTaskTrees, readTaskLog, renderTaskTree, runStatus } from '../tasks/index.ts'
import type { TaskTreeNode } from '../tasks/index.ts'
import type { CliIo } from './io.ts'
import { CliExit } from './io.ts'

type StatusTree = TaskTreeNode & { runStatus: string; tasks: StatusTree[] }

function withRunStatus(node: TaskTreeNode): StatusTree {
  return { ...node, runStatus: runStatus(node), tasks: node.tasks.map(withRunStatus) }
}

/** Registers `log show <file>`: renders a JSONL task log as a tree (`--json` for the rebuilt tree). */
export function registerLogCommands(program: Command, io: CliIo): void {
  const log = program.command('log').description('read task logs')
  log
    .command('show')
    .description('render a JSONL task log as a tree; unfinished tasks show as interrupted')
    .argument('<file>', 'a .jsonl task log')
    .option('--json', 'print the rebuilt tree as JSON, each node with its computed runStatus')
    .action(async (file: string, options: { json?: boolean }) => {
      const { events, rejected } = await readTaskLog(file)
      const { roots, orphans } = buildTaskTrees(events, { final: true })
      if (options.json === true) {
        io.out(`${JSON.stringify({ roots: roots.map(withRunStatus), orphans, rejected }, null, 2)}\n`)
        return
      }
      for (const { line, reason } of rejected) io.err(`warning: ${file}:${line}: skipped: ${reason}\n`)
      if (orphans.length > 0) io.err(`warning: ${orphans.length} event(s) name a task that never started\n`)
      if (roots.length === 0) throw new CliExit(1, `${file}: no task in this log`)
      io.out(roots.map((root) => renderTaskTree(root)).join('\n'))
    })
}
