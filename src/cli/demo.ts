import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import process from 'node:process'
import type { Command } from 'commander'
import { systemClock } from '../shared/clock.ts'
import { JsonlFileSink } from '../tasks/sinks/jsonl-sink.ts'
import { fanOutSink } from '../tasks/sinks/memory-sink.ts'
import type { CliIo } from './io.ts'
import { CliExit, processIo } from './io.ts'
import { createLiveSink, formatRunSummary } from './live/index.ts'

/** Registers `demo [--dir <folder>]`: the simulator, a delta job twice (remote + CR), a full job, list, check, restore. */
export function registerDemoCommand(program: Command, io: CliIo): void {
  program
    .command('demo')
    .description('show the whole product in a minute: simulator, delta and full backups, check, restore')
    .option('--dir <folder>', 'where the demo writes (emptied first)', join(tmpdir(), 'xapi-backup-demo'))
    .action(async (options: { dir: string }) => {
      const dir = resolve(options.dir)
      // Loaded here: `--help` must not load the simulator and the engine (start-up).
      const { runDemo } = await import('../app/demo.ts')
      const result = await runDemo(dir, {
        say: (line) => {
          io.out(`${line}\n`)
        },
        runSink: async (name) => {
          const live = createLiveSink({
            out: io.out,
            isTty: io.out === processIo.out && process.stdout.isTTY,
            clock: systemClock,
          })
          const file = await JsonlFileSink.open(join(dir, `${name}.jsonl`))
          return {
            sink: fanOutSink(live, file),
            done: async () => {
              const summary = live.close()
              io.out(formatRunSummary(summary))
              await file.close()
              return summary.status
            },
          }
        },
      })
      io.out(
        [
          '',
          '== what to try next ==',
          `xapi-backup backups list ${result.remoteUrl}`,
          `xapi-backup backups check ${result.remoteUrl}`,
          `xapi-backup log show ${join(dir, 'delta-2.jsonl')}`,
          `xapi-backup log show ${join(dir, 'restore.jsonl')}   # the seed's restore tree`,
          `xapi-backup vhd info $(ls ${join(dir, 'remote')}/xo-vm-backups/*/vdis/*/*/*.vhd | head -1)`,
          `xapi-backup run ${join(dir, 'delta-job.yaml')} --explain   # the effective settings`,
          'xapi-backup simulator   # a pool to point your own run descriptions at',
          `xapi-backup token create --data-dir ${join(dir, 'server')}   # an API token for the job server`,
          `xapi-backup serve --data-dir ${join(dir, 'server')}   # schedules, REST API, web console at the printed url`,
          `(the demo's simulator has stopped; everything it wrote is in ${dir})`,
          '',
        ].join('\n'),
      )
      const failed = result.runs.filter((r) => r.status !== 'success')
      if (failed.length > 0)
        throw new CliExit(
          1,
          `error: demo run${failed.length > 1 ? 's' : ''} ${failed.map((r) => `${r.name} ended ${r.status}${r.error === undefined ? '' : ` (${r.error})`}`).join(', ')}; see ${join(dir, `${failed[0]?.name ?? ''}.jsonl`)}`,
        )
      if (result.restored === undefined) throw new CliExit(1, 'error: no delta backup of db-01 was restored')
      if (!result.restored.disksMatch)
        throw new CliExit(
          1,
          `error: the VM ${result.restored.vmUuid} restored from ${result.restored.backupId} has a disk that differs from its snapshot`,
        )
    })
}
