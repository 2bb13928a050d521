import type { Clock } from '../../shared/clock.ts'
import type { Json } from '../../shared/json.ts'
import { redact } from '../../tasks/index.ts'
import type { TaskEvent, TaskSink } from '../../tasks/index.ts'
import { LineRenderer } from './line-renderer.ts'
import { LiveTree } from './live-tree.ts'
import type { RunSummary } from './summary.ts'
import { summarizeRun } from './summary.ts'
import { redrawText, renderFrame } from './tty-renderer.ts'

/** The timer the live view redraws on; injected so that tests drive it (and see it stopped). */
export interface LiveTimers {
  setInterval(callback: () => void, ms: number): unknown
  clearInterval(handle: unknown): void
}

/** Node's timers, unref'd: a view left open never keeps the process alive. */
export const nodeTimers: LiveTimers = {
  setInterval(callback, ms) {
    const handle = setInterval(callback, ms)
    handle.unref()
    return handle
  },
  clearInterval(handle) {
    clearInterval(handle as ReturnType<typeof setInterval>)
  },
}

/** Options of createLiveSink. */
export interface LiveSinkOptions {
  /** Where the view is written (stdout); must not throw. */
  readonly out: (text: string) => void
  /** stdout is a terminal: redraw a tree in place; otherwise plain lines. */
  readonly isTty: boolean
  /** Terminal width (default 80); lines are cut to it. */
  readonly columns?: number
  /** Terminal height (default 24): a frame has at most `rows - 1` lines. */
  readonly rows?: number
  /** The run's clock: elapsed times and rates of running tasks. */
  readonly clock: Clock
  /** One JSON event a line, as in the JSONL log, whatever `isTty` says. */
  readonly json?: boolean
  readonly timers?: LiveTimers
}

/** A TaskSink that shows a run as it goes; close() stops it and returns the run's summary. */
export interface LiveSink extends TaskSink {
  readonly mode: 'tty' | 'plain' | 'json'
  /**
   * Stops the timer, marks unfinished tasks interrupted, draws the final frame (TTY mode) and
   * returns the summary (idempotent). Events written after it are ignored: a task that ends after
   * the CLI gave up on the run must not crash it, and the JSONL log still records it.
   */
  close(): RunSummary
  /** The terminal was resized (stdout 'resize'): the next frames fit the new size. */
  resize(columns: number, rows: number): void
  /** The error that stopped the display, if rendering ever failed (the run goes on without it). */
  readonly displayError: unknown
}

/** The timer period: at most 10 frames a second, however many events arrive. */
export const FRAME_INTERVAL_MS = 100
/** A frame is redrawn at least this often while tasks run, so that elapsed times and rates move. */
export const REFRESH_MS = 1000
/** Lines (warnings, failures) kept for printing above the next frame; the rest are counted. */
export const MAX_LINES_ABOVE = 50

/**
 * Creates the live view of a run (issue 10 item 7). JSON mode writes each event as one JSON line.
 * Plain mode (not a TTY) writes one line per notable event (LineRenderer). TTY mode redraws a
 * tree of running and recently finished tasks (renderFrame) on a timer of FRAME_INTERVAL_MS (so
 * at most 10 frames a second: events only mark the view dirty; the first event draws at once),
 * with warnings and failures printed above it as lines that stay. Every event is redacted again
 * on the way in, as `log show` does on read.
 */
export function createLiveSink(options: LiveSinkOptions): LiveSink {
  const mode = options.json === true ? 'json' : options.isTty ? 'tty' : 'plain'
  const { clock, out } = options
  const timers = options.timers ?? nodeTimers
  const tree = new LiveTree()
  const lines = new LineRenderer(tree)
  let above: string[] = []
  let droppedAbove = 0
  let previousLines = 0
  let lastDraw: number | undefined
  let dirty = false
  let closed = false
  let summary: RunSummary | undefined
  let displayError: unknown
  let display = true

  let columns = options.columns ?? 80
  let rows = options.rows ?? 24

  const draw = (final: boolean) => {
    const frame = renderFrame(tree.roots, { nowMs: clock.now(), columns, rows, final })
    if (droppedAbove > 0) above.push(`… ${droppedAbove} more warning or failure line(s): see the task log`)
    out(redrawText(previousLines, above, frame))
    previousLines = frame.length
    above = []
    droppedAbove = 0
    lastDraw = clock.now()
    dirty = false
  }

  // Rendering must never crash the run it shows: a failure stops the display, not the backup.
  const guarded = (fn: () => void) => {
    if (!display) return
    try {
      fn()
    } catch (error) {
      displayError = error
      display = false
    }
  }

  const tick = () => {
    guarded(() => {
      const running = tree.roots.some((root) => root.status === 'pending')
      if (dirty || (running && lastDraw !== undefined && clock.now() - lastDraw >= REFRESH_MS)) draw(false)
    })
  }
  const timer = mode === 'tty' ? timers.setInterval(tick, FRAME_INTERVAL_MS) : undefined

  const keepAbove = (line: string) => {
    if (above.length < MAX_LINES_ABOVE) above.push(line)
    else droppedAbove++
  }

  return {
    mode,
    get displayError() {
      return displayError
    },
    write(event: TaskEvent) {
      if (closed) return
      const safe = redact(event as unknown as Json) as unknown as TaskEvent
      const node = tree.apply(safe)
      guarded(() => {
        if (mode === 'json') {
          out(`${JSON.stringify(safe)}\n`)
          return
        }
        if (mode === 'plain') {
          const line = lines.line(safe, node)
          if (line !== undefined) out(`${line}\n`)
          return
        }
        const failed = (safe.event === 'task.end' || safe.event === 'job.end') && safe.status === 'failure'
        if (safe.event === 'task.warning' || failed) {
          const line = lines.line(safe, node)
          if (line !== undefined) keepAbove(line)
        }
        dirty = true
        if (lastDraw === undefined) draw(false)
      })
    },
    resize(newColumns: number, newRows: number) {
      if (!(newColumns > 0 && newRows > 0)) return
      columns = newColumns
      rows = newRows
      dirty = true
    },
    close() {
      if (summary !== undefined) return summary
      closed = true
      if (timer !== undefined) timers.clearInterval(timer)
      tree.finalize()
      if (mode === 'tty') {
        guarded(() => {
          draw(true)
        })
      }
      summary = summarizeRun(tree.roots, clock.now(), tree.warnings)
      return summary
    },
  }
}
