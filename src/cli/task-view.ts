import process from 'node:process'
import { systemClock } from '../shared/clock.ts'
import type { TaskSink } from '../tasks/events.ts'
import { JsonlFileSink } from '../tasks/sinks/jsonl-sink.ts'
import { fanOutSink } from '../tasks/sinks/memory-sink.ts'
import { terminalSize } from './interrupt.ts'
import type { CliIo } from './io.ts'
import { processIo } from './io.ts'
import type { LiveSink } from './live/index.ts'
import { createLiveSink } from './live/index.ts'

/** The live task view of a one-task command (restore, health-check), and the JSONL log if asked. */
export interface TaskView {
  readonly live: LiveSink
  /** Where the command's task events go: the view, and the `--log` file. */
  readonly sink: TaskSink
  /** Closes the view and the log file; safe to call after `live.close()`. */
  close(): Promise<void>
}

/**
 * Opens the live view on `io.out` — muted with `--json`, whose one result line is the output (the
 * JSONL log, if asked, still has every event) — and appends the events to `--log` when given.
 */
export async function openTaskView(
  io: CliIo,
  options: { readonly json?: boolean; readonly log?: string },
): Promise<TaskView> {
  const live = createLiveSink({
    out: options.json === true ? () => undefined : io.out,
    isTty: io.out === processIo.out && process.stdout.isTTY,
    ...terminalSize(),
    clock: systemClock,
  })
  const file = options.log === undefined ? undefined : await JsonlFileSink.open(options.log)
  return {
    live,
    sink: file === undefined ? live : fanOutSink(live, file),
    close: async () => {
      live.close()
      await file?.close()
    },
  }
}
