import process from 'node:process'
import type { Command } from 'commander'
import type { RunDescriptionWarning } from '../engine/run-description-error.ts'
import { systemClock } from '../shared/clock.ts'
import type { TaskSink } from '../tasks/events.ts'
import { JsonlFileSink } from '../tasks/sinks/jsonl-sink.ts'
import { fanOutSink } from '../tasks/sinks/memory-sink.ts'
import type { CliIo } from './io.ts'
import { CliExit, processIo } from './io.ts'
import { onInterrupt, terminalSize } from './interrupt.ts'
import { createLiveSink, exitCodeFor, formatRunSummary } from './live/index.ts'

interface RunOptions {
  readonly log?: string
  readonly json?: boolean
  readonly explain?: boolean
}

const printWarnings =
  (io: CliIo) =>
  (warnings: readonly RunDescriptionWarning[]): void => {
    for (const warning of warnings) io.err(`warning: ${warning.message}\n`)
  }

async function runAction(file: string, options: RunOptions, io: CliIo): Promise<void> {
  // Loaded here, not at the top: `--help` and other commands must not pay for the engine (start-up).
  const { explainRunFile, runBackupFromFile } = await import('../app/run-backup.ts')
  const { renderSettingsExplanation } = await import('../engine/settings-explanation.ts')
  if (options.explain === true) {
    const explanation = await explainRunFile(file, { onWarnings: printWarnings(io) })
    io.out(
      options.json === true
        ? `${JSON.stringify(explanation, null, 2)}\n`
        : renderSettingsExplanation(explanation),
    )
    return
  }
  const live = createLiveSink({
    out: io.out,
    // Only the real terminal gets the redrawn tree; captured output (tests, pipes) gets plain lines.
    isTty: io.out === processIo.out && process.stdout.isTTY,
    ...terminalSize(),
    clock: systemClock,
    ...(options.json === true ? { json: true } : {}),
  })
  const file_ = options.log === undefined ? undefined : await JsonlFileSink.open(options.log)
  const sink: TaskSink = file_ === undefined ? live : fanOutSink(live, file_)
  const controller = new AbortController()
  const removeHandlers = onInterrupt(controller, io, 'stopping the run cleanly')
  let jobStarted = false as boolean
  const watched: TaskSink = {
    write(event) {
      if (event.event === 'job.start') jobStarted = true
      sink.write(event)
    },
  }
  let failure: unknown
  try {
    await runBackupFromFile(file, {
      sink: watched,
      signal: controller.signal,
      onWarnings: printWarnings(io),
      onRemoteWarning: (message) => {
        io.err(`warning: ${message}\n`)
      },
    })
  } catch (error) {
    failure = error
  } finally {
    removeHandlers()
    await file_?.close()
  }
  const summary = live.close()
  // Before the job started (a bad description, a login that failed): nothing ran, say why in one line.
  if (!jobStarted && failure !== undefined) throw failure as Error
  if (options.json !== true) io.out(formatRunSummary(summary))
  if (options.log !== undefined && options.json !== true) io.out(`task log: ${options.log}\n`)
  const code = exitCodeFor(summary.status)
  if (code !== 0) throw new CliExit(code)
}

/** Registers `run <run-description>`: runs a backup job (issue 10) or explains its settings. */
export function registerRunCommand(program: Command, io: CliIo): void {
  program
    .command('run')
    .description('run a backup job from a run description (JSON or YAML), showing its task log live')
    .argument('<run-description>', 'a .json or .yaml run description (the seed\'s "Run description object")')
    .option('--log <file>', 'also append the task log to this JSONL file (read it with `log show`)')
    .option('--json', 'print the task events as JSON lines instead of the live view')
    .option(
      '--explain',
      "print each VM's effective settings per target and where each comes from; run nothing",
    )
    .action(async (file: string, options: RunOptions) => {
      await runAction(file, options, io)
    })
}
