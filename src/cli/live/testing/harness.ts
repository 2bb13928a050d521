/* eslint-disable no-control-regex -- this file parses the ANSI codes the TTY view writes */
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { FixedClock } from '../../../shared/clock.ts'
import { createFixedClock } from '../../../shared/clock.ts'
import type { TaskEvent } from '../../../tasks/index.ts'
import { parseTaskLog } from '../../../tasks/index.ts'
import type { LiveSink, LiveSinkOptions, LiveTimers } from '../live-sink.ts'
import { createLiveSink } from '../live-sink.ts'

/** The events of a recorded fixture in test/fixtures/task-logs/ (redacted on read, as `log show` reads). */
export async function fixtureEvents(name: string): Promise<TaskEvent[]> {
  const path = fileURLToPath(new URL(`../../../../test/fixtures/task-logs/${name}`, import.meta.url))
  return parseTaskLog(await readFile(path, 'utf8'), name).events
}

/** Timers that only fire when the test says so, and that tell whether one is still set. */
export interface FakeTimers extends LiveTimers {
  /** Runs every callback still set, as one period of the interval would. */
  tick(): void
  readonly active: number
}

/** Creates FakeTimers. */
export function fakeTimers(): FakeTimers {
  const callbacks = new Map<number, () => void>()
  let next = 1
  return {
    setInterval(callback) {
      callbacks.set(next, callback)
      return next++
    },
    clearInterval(handle) {
      callbacks.delete(handle as number)
    },
    tick() {
      for (const callback of [...callbacks.values()]) callback()
    },
    get active() {
      return callbacks.size
    },
  }
}

/** A live sink writing into `chunks` (one per `out` call), on a fixed clock and fake timers. */
export function captureSink(options: Partial<LiveSinkOptions> & { startMs?: number | undefined } = {}) {
  const chunks: string[] = []
  const clock: FixedClock = createFixedClock(options.startMs ?? Date.UTC(2026, 10, 27, 3))
  const timers = fakeTimers()
  const sink: LiveSink = createLiveSink({
    isTty: false,
    clock,
    timers,
    ...options,
    out:
      options.out ??
      ((text) => {
        chunks.push(text)
      }),
  })
  return { sink, chunks, clock, timers, text: () => chunks.join('') }
}

/**
 * Writes `events` to `sink`, first moving `clock` to each event's timestamp (never back), and
 * calls `afterEach` after each one (a TTY test ticks the timer there).
 */
export function replay(
  events: readonly TaskEvent[],
  sink: LiveSink,
  clock: FixedClock,
  afterEach?: () => void,
) {
  for (const event of events) {
    if (event.timestamp > clock.now()) clock.advance(event.timestamp - clock.now())
    sink.write(event)
    afterEach?.()
  }
}

/** One draw of the TTY view: how many lines it moved up over the previous frame, and its lines. */
export interface Draw {
  readonly up: number
  readonly lines: string[]
}

/** Splits one `out` chunk of TTY mode into its cursor movement and lines (clear codes removed). */
export function parseDraw(chunk: string): Draw {
  const match = /^\x1b\[(\d+)A/.exec(chunk)
  const body = chunk.slice(match?.[0].length ?? 0).replace(/\x1b\[J$/, '')
  const lines =
    body === ''
      ? []
      : body
          .replace(/\n$/, '')
          .split('\n')
          .map((line) => line.replace(/^\r\x1b\[2K/, ''))
  return { up: match === null ? 0 : Number(match[1]), lines }
}

const GiB = 1024 ** 3

/**
 * A synthetic backup of `count` VMs run at once: each VM snapshots (1 s), then its transfer to
 * remote `nas` reports progress every `stepMs` (10% of `size` each time) and ends; VMs are named
 * `vm-000`, `vm-001`… (data.name_label). Every VM starts at `startMs`; nothing is interleaved by
 * a clock, so the caller controls time through the timestamps.
 */
export function syntheticRun(
  count: number,
  options: { startMs?: number; size?: number; stepMs?: number } = {},
) {
  const t0 = options.startMs ?? Date.UTC(2026, 10, 27, 3)
  const size = options.size ?? GiB
  const step = options.stepMs ?? 1000
  const name = (i: number) => `vm-${String(i).padStart(3, '0')}`
  const events: TaskEvent[] = [
    { event: 'job.start', id: 'job', timestamp: t0, data: { mode: 'full', reportWhen: 'failure' } },
    {
      event: 'task.info',
      id: 'job',
      timestamp: t0,
      message: 'vms',
      data: { vms: Array.from({ length: count }, (_, i) => name(i)) },
    },
  ]
  const ids = Array.from({ length: count }, (_, i) => name(i))
  for (const vm of ids) {
    events.push({
      event: 'task.start',
      id: vm,
      parentId: 'job',
      timestamp: t0,
      data: { type: 'VM', id: `uuid-${vm}`, name_label: vm },
    })
    events.push({ event: 'task.start', id: `${vm}/snap`, parentId: vm, timestamp: t0, message: 'snapshot' })
  }
  for (const vm of ids) {
    events.push({ event: 'task.end', id: `${vm}/snap`, timestamp: t0 + 1000, status: 'success' })
    events.push({
      event: 'task.start',
      id: `${vm}/exp`,
      parentId: vm,
      timestamp: t0 + 1000,
      message: 'export',
      data: { type: 'remote', id: 'nas', isFull: true },
    })
    events.push({
      event: 'task.start',
      id: `${vm}/xfer`,
      parentId: `${vm}/exp`,
      timestamp: t0 + 1000,
      message: 'transfer',
    })
  }
  for (let tenth = 1; tenth <= 10; tenth++) {
    for (const vm of ids) {
      events.push({
        event: 'task.progress',
        id: `${vm}/xfer`,
        timestamp: t0 + 1000 + tenth * step,
        done: (size * tenth) / 10,
        total: size,
      })
    }
  }
  const end = t0 + 1000 + 10 * step
  for (const vm of ids) {
    events.push({ event: 'task.end', id: `${vm}/xfer`, timestamp: end, status: 'success', result: { size } })
    events.push({ event: 'task.end', id: `${vm}/exp`, timestamp: end, status: 'success' })
    events.push({ event: 'task.end', id: vm, timestamp: end, status: 'success' })
  }
  events.push({ event: 'job.end', id: 'job', timestamp: end, status: 'success' })
  return events
}
