// Runs `xapi-backup run <description> --log <file>` (src/cli/main.ts through tsx) in a child
// process for test/integration/engine-job-faults.test.ts, and reads its task log as it is
// written so a test can act at a chosen event: SIGKILL it, Ctrl-C it. The child's wall clock is
// moved by `offsetMs` (engine-faults-clock.ts); `fileSizeLimitBytes` runs it under RLIMIT_FSIZE
// (`ulimit -f`), so a write past that size fails with EFBIG, as a full disk fails with ENOSPC.
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { TaskEvent } from '../../src/tasks/events.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))
const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))
const clockPreload = fileURLToPath(new URL('./engine-faults-clock.ts', import.meta.url))

/** How a run child ended, with everything it printed and logged. */
export interface RunChildOutcome {
  readonly status: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  /** Every complete line of the task log, read after the child ended. */
  readonly events: readonly TaskEvent[]
  readonly timedOut: boolean
}

/** A running child; `events` grows as the log is read (every ~10 ms). */
export interface RunChild {
  readonly pid: number
  readonly events: readonly TaskEvent[]
  signal(name: NodeJS.Signals): void
  readonly done: Promise<RunChildOutcome>
}

/** Options of startRunChild. */
export interface RunChildOptions {
  readonly description: string
  readonly log: string
  /** The child's Date.now offset, the simulator clock's (ms). */
  readonly offsetMs: number
  readonly fileSizeLimitBytes?: number
  /** Killed (SIGKILL) after this long; default 180 s. */
  readonly timeoutMs?: number
  /** Called once for each new log event, in order, while the child runs. */
  readonly onEvent?: (event: TaskEvent, index: number, child: RunChild) => void
}

async function readEvents(log: string): Promise<TaskEvent[]> {
  let text: string
  try {
    text = await readFile(log, 'utf8')
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return []
    throw error
  }
  // Only complete lines: the one being appended (or cut by a kill) is left for later.
  const lines = text.split('\n').slice(0, -1)
  const events: TaskEvent[] = []
  for (const line of lines) {
    if (line.trim() === '') continue
    try {
      events.push(JSON.parse(line) as TaskEvent)
    } catch {
      // A line cut by SIGKILL and followed by the next writer's newline (JsonlFileSink.open).
    }
  }
  return events
}

/** Starts `xapi-backup run` in a child; `done` resolves once it has exited and its log is read. */
export function startRunChild(options: RunChildOptions): RunChild {
  const env = Object.fromEntries(
    Object.entries({
      ...process.env,
      NO_COLOR: '1',
      NODE_TEST_CONTEXT: undefined,
      ENGINE_FAULTS_CLOCK_OFFSET_MS: String(options.offsetMs),
    }).filter((entry): entry is [string, string] => entry[1] !== undefined),
  )
  const node = [
    process.execPath,
    '--import',
    'tsx',
    '--import',
    clockPreload,
    main,
    'run',
    options.description,
    '--log',
    options.log,
  ]
  const limit = options.fileSizeLimitBytes
  const [command, ...args] =
    limit === undefined
      ? node
      : [
          'bash',
          '-c',
          'ulimit -f "$1" && shift && exec "$@"',
          'bash',
          String(Math.ceil(limit / 1024)),
          ...node,
        ]
  const child = spawn(command ?? process.execPath, args, {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text))
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text))
  const events: TaskEvent[] = []
  const handle: RunChild = {
    pid: child.pid ?? -1,
    events,
    signal(name) {
      if (child.exitCode === null && child.signalCode === null) child.kill(name)
    },
    done: undefined as unknown as Promise<RunChildOutcome>,
  }
  let polling = false
  let exited = false
  const poll = async (): Promise<void> => {
    if (polling || exited) return
    polling = true
    try {
      const all = await readEvents(options.log)
      for (let i = events.length; i < all.length; i++) {
        const event = all[i] as TaskEvent
        events.push(event)
        options.onEvent?.(event, i, handle)
      }
    } finally {
      polling = false
    }
  }
  const poller = setInterval(() => {
    void poll()
  }, 10)
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    child.kill('SIGKILL')
  }, options.timeoutMs ?? 180_000)
  const done = new Promise<RunChildOutcome>((resolve, reject) => {
    child.once('error', (error) => {
      clearInterval(poller)
      clearTimeout(timer)
      reject(error)
    })
    child.once('close', (status, signal) => {
      exited = true
      clearInterval(poller)
      clearTimeout(timer)
      readEvents(options.log).then(
        (all) => {
          resolve({ status, signal, stdout, stderr, events: all, timedOut })
        },
        (error: unknown) => {
          reject(error instanceof Error ? error : new Error(String(error)))
        },
      )
    })
  })
  ;(handle as { done: Promise<RunChildOutcome> }).done = done
  return handle
}
