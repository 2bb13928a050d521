// The job server's scheduler (issue 12): turns schedules' cron expressions into `trigger` calls at
// their due times and reports the occurrences nobody ran (server down) as missed. croner only
// computes occurrences; time and waiting come from the injected Clock, so tests drive it by hand.
// A per-schedule checkpoint (epoch ms, persisted through the deps) marks the last occurrence
// handled: it only moves forward, so an occurrence is triggered at most once, even across restarts
// or when the clock steps back.
import { Cron } from 'croner'
import type { Clock } from '../shared/clock.ts'
import type { ScheduleRecord } from './model.ts'

/** Longest single sleep: the loop wakes at least this often to notice clock jumps and edits. */
export const MAX_SLEEP_MS = 60_000
/** How late an occurrence may be found and still run (a restart or a busy event loop) instead of being missed. */
export const DEFAULT_GRACE_MS = 60_000
/** How many of the first and of the last missed occurrences are listed. */
export const MISSED_SAMPLE = 10
/**
 * Missed occurrences counted one by one before the count becomes a lower bound: croner takes
 * ~0.2 ms per occurrence in a time zone, and a year down with an every-minute cron is 525,600.
 */
export const MISSED_COUNT_LIMIT = 500

/** Occurrences of a schedule that passed without running, bounded whatever the downtime. */
export interface MissedRuns {
  /** How many were missed: exact when `countIsExact`, else a lower bound. */
  readonly count: number
  readonly countIsExact: boolean
  /** The first and the last MISSED_SAMPLE due times (epoch ms), ascending, no duplicates. */
  readonly dueAtMs: readonly number[]
}

/** What the scheduler needs: the lead wires the store and the run service behind these. */
export interface SchedulerDeps {
  readonly clock: Clock
  listSchedules(): readonly ScheduleRecord[]
  getCheckpoint(scheduleId: string): number | undefined
  setCheckpoint(scheduleId: string, atMs: number): void
  /** Starts (or records as skipped) the run due at `dueAtMs`; must not block. */
  trigger(schedule: ScheduleRecord, dueAtMs: number): void
  reportMissed(schedule: ScheduleRecord, missed: MissedRuns): void
  /** Errors of the deps and of invalid stored crons (once per expression); default: a process warning. */
  onError?(error: unknown): void
  /** DEFAULT_GRACE_MS unless given. */
  readonly graceMs?: number
  /** MAX_SLEEP_MS unless given. */
  readonly maxSleepMs?: number
}

/** A running scheduler. */
export interface Scheduler {
  /** Starts the loop (once; later calls do nothing); the first pass (missed runs) runs before it returns. */
  start(): void
  /** Re-reads the schedules now (call after the API changed one). */
  reload(): void
  /** Ends the loop; resolves once it has ended (at once when never started). */
  stop(): Promise<void>
}

/** Outcome of checkCron: the next occurrence, or a one-line reason naming the bad field. */
export type CronCheck =
  | { readonly ok: true; readonly next: number }
  | { readonly ok: false; readonly path: 'cron' | 'timezone'; readonly message: string }

/** Checks a schedule's cron (5 fields, or 6 with seconds first, or a @nickname) and IANA time zone for the API. */
export function checkCron(expr: string, timezone: string, nowMs: number): CronCheck {
  if (!isTimeZone(timezone)) {
    return {
      ok: false,
      path: 'timezone',
      message: `timezone: ${JSON.stringify(timezone)} is not an IANA time zone`,
    }
  }
  const what = `cron: ${JSON.stringify(expr)}`
  let next: Date | null
  try {
    next = compileCron(expr, timezone).nextRun(new Date(nowMs))
  } catch (error) {
    const reason = (error instanceof Error ? error.message : String(error)).replace(/^CronPattern: /, '')
    return { ok: false, path: 'cron', message: `${what} is not a valid cron expression: ${reason}` }
  }
  if (next === null) return { ok: false, path: 'cron', message: `${what} never occurs` }
  return { ok: true, next: next.getTime() }
}

function isTimeZone(timezone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone })
    return timezone !== ''
  } catch {
    return false
  }
}

// paused: croner must never start timers of its own; the loop below does the waiting.
function compileCron(expr: string, timezone: string): Cron {
  return new Cron(expr, { timezone, paused: true, mode: '5-or-6-parts' })
}

function nextAfter(cron: Cron, fromMs: number): number | null {
  return cron.nextRun(new Date(fromMs))?.getTime() ?? null
}

/** Occurrences in (fromMs, nowMs]: a bounded count, the first and last ones, the newest. */
interface Due {
  readonly count: number
  readonly countIsExact: boolean
  /** Ascending, deduplicated: the first MISSED_SAMPLE and the last MISSED_SAMPLE + 1 (newest included). */
  readonly sample: readonly number[]
  readonly newest: number
}

function collectDue(cron: Cron, fromMs: number, nowMs: number): Due | null {
  const first: number[] = []
  let last: number[] = []
  let count = 0
  let cursor = fromMs
  for (let at = nextAfter(cron, cursor); at !== null && at <= nowMs; at = nextAfter(cron, cursor)) {
    count++
    if (first.length < MISSED_SAMPLE) first.push(at)
    last.push(at)
    if (last.length > MISSED_SAMPLE + 1) last.shift()
    cursor = at
    if (count === MISSED_COUNT_LIMIT) break
  }
  if (count === 0) return null
  let countIsExact = true
  if (count === MISSED_COUNT_LIMIT) {
    // Too many to walk: take the newest ones backwards from now (croner's reference is exclusive).
    const tail = cron
      .previousRuns(MISSED_SAMPLE + 1, new Date(nowMs + 1))
      .map((d) => d.getTime())
      .filter((at) => at > cursor && at <= nowMs)
      .reverse()
    countIsExact = tail.length < MISSED_SAMPLE + 1
    count += tail.length
    last = [...last, ...tail].slice(-(MISSED_SAMPLE + 1))
  }
  const sample = [...new Set([...first, ...last])].sort((a, b) => a - b)
  return { count, countIsExact, sample, newest: sample[sample.length - 1] ?? cursor }
}

/** The missed part of `due`: all of it, or all but the newest when that one runs. */
function missedRuns(due: Due, newestRuns: boolean): MissedRuns {
  const listed = newestRuns ? due.sample.slice(0, -1) : due.sample
  const dueAtMs =
    listed.length <= 2 * MISSED_SAMPLE
      ? listed
      : [...listed.slice(0, MISSED_SAMPLE), ...listed.slice(-MISSED_SAMPLE)]
  return { count: newestRuns ? due.count - 1 : due.count, countIsExact: due.countIsExact, dueAtMs }
}

/** What the loop remembers of a schedule between passes. */
interface Tracked {
  key: string
  cron: Cron | null
  checkpoint: number
  /** First occurrence after the checkpoint; undefined: to compute, null: never. */
  nextDue: number | null | undefined
}

/** The loop's state and settings, shared by the functions of one pass. */
interface PassContext {
  readonly deps: SchedulerDeps
  readonly graceMs: number
  readonly maxSleepMs: number
  readonly onError: (error: unknown) => void
  readonly tracked: Map<string, Tracked>
}

function safely(ctx: PassContext, action: () => void): void {
  try {
    action()
  } catch (error) {
    ctx.onError(error)
  }
}

function moveCheckpoint(ctx: PassContext, id: string, entry: Tracked, atMs: number): void {
  if (atMs <= entry.checkpoint) return
  entry.checkpoint = atMs
  entry.nextDue = undefined
  safely(ctx, () => {
    ctx.deps.setCheckpoint(id, atMs)
  })
}

/** The schedule's memory, created at first sight in this process, its cron compiled on change. */
function track(ctx: PassContext, schedule: ScheduleRecord, now: number): Tracked {
  let entry = ctx.tracked.get(schedule.id)
  if (entry === undefined) {
    // The stored checkpoint, else the schedule's creation (not before the grace window): nothing
    // before a schedule existed is missed.
    let checkpoint = ctx.deps.getCheckpoint(schedule.id)
    if (checkpoint === undefined) {
      const atMs = Math.min(now, Math.max(schedule.createdAt, now - ctx.graceMs))
      checkpoint = atMs
      safely(ctx, () => {
        ctx.deps.setCheckpoint(schedule.id, atMs)
      })
    }
    entry = { key: '', cron: null, checkpoint, nextDue: undefined }
    ctx.tracked.set(schedule.id, entry)
  }
  const key = `${schedule.cron}\n${schedule.timezone}`
  if (entry.key !== key) {
    entry.key = key
    entry.nextDue = undefined
    try {
      entry.cron = compileCron(schedule.cron, schedule.timezone)
    } catch (error) {
      entry.cron = null
      ctx.onError(new Error(`schedule ${schedule.id}: ${String(error)}`, { cause: error }))
    }
  }
  return entry
}

/** Handles one schedule at `now`: triggers or reports what is due; returns its next due time. */
function visit(ctx: PassContext, schedule: ScheduleRecord, now: number): number | null {
  const entry = track(ctx, schedule, now)
  if (!schedule.enabled) {
    // Disabled time is not missed time: re-enabling starts from here.
    moveCheckpoint(ctx, schedule.id, entry, now)
    return null
  }
  // Occurrences before the last edit belong to the schedule's old form (or its disabled time).
  moveCheckpoint(ctx, schedule.id, entry, Math.min(schedule.updatedAt, now))
  const cron = entry.cron
  if (cron === null) return null
  entry.nextDue ??= nextAfter(cron, entry.checkpoint)
  if (entry.nextDue === null || entry.nextDue > now) return entry.nextDue
  const due = collectDue(cron, entry.checkpoint, now)
  if (due === null) return entry.nextDue
  // Checkpoint first: a trigger that throws or a crash right after must not run it twice.
  moveCheckpoint(ctx, schedule.id, entry, due.newest)
  const runsNow = now - due.newest <= ctx.graceMs
  const missed = missedRuns(due, runsNow)
  if (missed.count > 0) {
    safely(ctx, () => {
      ctx.deps.reportMissed(schedule, missed)
    })
  }
  if (runsNow) {
    safely(ctx, () => {
      ctx.deps.trigger(schedule, due.newest)
    })
  }
  entry.nextDue = nextAfter(cron, entry.checkpoint)
  return entry.nextDue
}

/** One look at every schedule; returns when to look again. */
function runPass(ctx: PassContext, now: number): number {
  let wakeAt = now + ctx.maxSleepMs
  let schedules: readonly ScheduleRecord[]
  try {
    schedules = ctx.deps.listSchedules()
  } catch (error) {
    ctx.onError(error)
    return wakeAt
  }
  const seen = new Set<string>()
  for (const schedule of schedules) {
    seen.add(schedule.id)
    try {
      const next = visit(ctx, schedule, now)
      if (next !== null) wakeAt = Math.min(wakeAt, next)
    } catch (error) {
      ctx.onError(error)
    }
  }
  for (const id of ctx.tracked.keys()) if (!seen.has(id)) ctx.tracked.delete(id)
  return wakeAt
}

/** Creates the scheduler; nothing happens before `start()`. */
export function createScheduler(deps: SchedulerDeps): Scheduler {
  const ctx: PassContext = {
    deps,
    graceMs: deps.graceMs ?? DEFAULT_GRACE_MS,
    maxSleepMs: deps.maxSleepMs ?? MAX_SLEEP_MS,
    onError: (error) => {
      if (deps.onError === undefined) process.emitWarning(`scheduler: ${String(error)}`)
      else deps.onError(error)
    },
    tracked: new Map(),
  }
  let loop: Promise<void> | undefined
  let stopped = false
  // A function, not the variable: deps called during a pass may stop the scheduler.
  const isStopped = (): boolean => stopped
  let wakeRequested = false
  let sleeping: AbortController | undefined

  const run = async (): Promise<void> => {
    while (!stopped) {
      const wakeAt = runPass(ctx, deps.clock.now())
      if (isStopped()) break
      if (wakeRequested) {
        wakeRequested = false
        continue
      }
      const controller = new AbortController()
      sleeping = controller
      // At least 1 ms: the next occurrence is always after now, so this never spins.
      const ms = Math.max(1, Math.min(wakeAt - deps.clock.now(), ctx.maxSleepMs))
      try {
        await deps.clock.sleep(ms, controller.signal)
      } catch (error) {
        if (!controller.signal.aborted) ctx.onError(error)
      } finally {
        sleeping = undefined
      }
      wakeRequested = false
    }
  }

  return {
    start() {
      if (loop !== undefined || stopped) return
      loop = run().catch(ctx.onError)
    },
    reload() {
      wakeRequested = true
      sleeping?.abort()
    },
    async stop() {
      stopped = true
      sleeping?.abort()
      await loop
    },
  }
}
