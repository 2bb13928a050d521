// The job server's runs (issue 12): starts a run of a stored job (or a restore, a health check),
// records every task event in the store as it happens and hands it to live listeners (the SSE
// stream), limits how many runs go at once, never runs one job twice at the same time (the
// second trigger is recorded as skipped), and on shutdown stops taking runs, cancels the running
// ones through their AbortSignal and waits until each has cleaned up.
import type { Clock } from '../shared/clock.ts'
import { BackupError } from '../shared/errors.ts'
import { newUuid } from '../shared/ids.ts'
import type { JsonObject } from '../shared/json.ts'
import type { TaskEvent, TaskSink } from '../tasks/events.ts'
import type { RunRecord, RunTrigger, RunVmSummary } from './model.ts'
import { summarizeRun } from './run-summary.ts'
import type { Store } from './store-port.ts'

/** What a live listener of a run receives: each event with its sequence number, then the end. */
export type RunUpdate =
  | { readonly kind: 'event'; readonly seq: number; readonly event: TaskEvent }
  | { readonly kind: 'end'; readonly run: RunRecord }

/** The work of a run: it logs to `sink`, stops when `signal` aborts, and resolves when all is cleaned up. */
export type RunWork = (sink: TaskSink, signal: AbortSignal) => Promise<unknown>

/** What starting a run needs besides its work. */
export interface RunStart {
  readonly kind: RunRecord['kind']
  readonly jobId: string | null
  readonly scheduleId: string | null
  readonly trigger: RunTrigger
  /** When the run was due (a schedule's occurrence); default now. */
  readonly dueAt?: number
  readonly params: JsonObject
}

/** Dependencies of the run service. */
export interface RunServiceOptions {
  readonly store: Store
  readonly clock: Clock
  /** Runs at the same time across jobs (others wait as `pending`); default 2. */
  readonly concurrency?: number
  /** Called once a run has ended and is stored (notifications); its errors go to onWarning. */
  readonly onRunEnd?: (run: RunRecord) => Promise<void>
  /** Problems outside any run's log (a store write that failed, a notification that failed). */
  readonly onWarning?: (message: string) => void
}

/** Why startRun did not start: the job already has a run going. */
export interface Skipped {
  readonly started: false
  readonly run: RunRecord
  readonly runningRunId: string
}

interface Active {
  readonly controller: AbortController
  readonly listeners: Set<(update: RunUpdate) => void>
  /** The run's events but progress (bounded by its tasks, not its bytes), for its summary. */
  readonly events: TaskEvent[]
  /** Resolves when the run has ended and is stored (set right after the record is made). */
  done: Promise<void>
  seq: number
  stopped: boolean
}

/** Runs of the job server; one instance per server. */
export class RunService {
  readonly #options: RunServiceOptions
  readonly #active = new Map<string, Active>()
  readonly #jobRuns = new Map<string, string>()
  readonly #queue: (() => void)[] = []
  #running = 0
  #accepting = true
  #lastEndedAt = 0

  constructor(options: RunServiceOptions) {
    this.#options = options
  }

  /** Marks runs left pending/running by a previous server as interrupted; returns how many. */
  recoverUnfinished(): number {
    const { store, clock } = this.#options
    const unfinished = store.listUnfinishedRuns()
    for (const run of unfinished) {
      const summary = summarizeRun(
        store.listRunEvents(run.id).map((e) => e.event),
        { final: true, stopped: true },
      )
      store.updateRun(run.id, {
        status: 'interrupted',
        reason: 'the server stopped during this run',
        end: clock.now(),
        sizeBytes: summary.sizeBytes,
        vms: summary.vms,
      })
    }
    return unfinished.length
  }

  /** True while the server takes new runs (false once shutdown began). */
  get accepting(): boolean {
    return this.#accepting
  }

  /** The run id of the job's run in progress, if any. */
  runningRunOf(jobId: string): string | undefined {
    return this.#jobRuns.get(jobId)
  }

  /** When the last run ended (server clock, epoch ms; 0 before any): what it wrote may change listings. */
  get lastEndedAt(): number {
    return this.#lastEndedAt
  }

  /** Number of runs started and not ended (pending ones included). */
  get activeCount(): number {
    return this.#active.size
  }

  /**
   * Starts a run of `work`, or records a skipped run (and says which run is in the way) when its job
   * already has one; throws RUNS_STOPPED during shutdown. The run is `pending` until a slot is free.
   */
  start(start: RunStart, work: RunWork): { started: true; run: RunRecord } | Skipped {
    const { store, clock } = this.#options
    if (!this.#accepting) throw new RunServiceError('RUNS_STOPPED', 'the server is stopping: no new runs')
    const now = clock.now()
    const base = {
      id: newUuid(),
      kind: start.kind,
      jobId: start.jobId,
      scheduleId: start.scheduleId,
      trigger: start.trigger,
      start: start.dueAt ?? now,
      sizeBytes: 0,
      vms: [],
      params: start.params,
    }
    const runningRunId = start.jobId === null ? undefined : this.#jobRuns.get(start.jobId)
    if (runningRunId !== undefined) {
      const run: RunRecord = {
        ...base,
        status: 'skipped',
        reason: `the job is already running (run ${runningRunId})`,
        end: now,
      }
      store.insertRun(run)
      return { started: false, run, runningRunId }
    }
    const run: RunRecord = { ...base, status: 'pending', reason: null, end: null }
    store.insertRun(run)
    if (start.jobId !== null) this.#jobRuns.set(start.jobId, run.id)
    const controller = new AbortController()
    const active: Active = {
      controller,
      listeners: new Set(),
      events: [],
      seq: 0,
      stopped: false,
      done: Promise.resolve(),
    }
    this.#active.set(run.id, active)
    active.done = this.#execute(run, active, work, start.jobId)
    return { started: true, run }
  }

  /** Records runs that were due while the server was down, as `missed`; returns them in order. */
  recordMissed(
    start: Omit<RunStart, 'dueAt' | 'kind'>,
    dueAts: readonly number[],
    reason: string,
  ): RunRecord[] {
    const { store, clock } = this.#options
    return dueAts.map((dueAt) => {
      const run: RunRecord = {
        id: newUuid(),
        kind: 'backup',
        jobId: start.jobId,
        scheduleId: start.scheduleId,
        trigger: start.trigger,
        status: 'missed',
        reason,
        start: dueAt,
        end: clock.now(),
        sizeBytes: 0,
        vms: [],
        params: start.params,
      }
      store.insertRun(run)
      return run
    })
  }

  /** Asks a run to stop (its work sees the abort and cleans up); false when it is not active. */
  cancel(runId: string, reason = 'cancelled by a user'): boolean {
    const active = this.#active.get(runId)
    if (active === undefined) return false
    active.stopped = true
    active.controller.abort(new RunServiceError('RUN_CANCELLED', reason))
    return true
  }

  /**
   * Listens to a run's updates from now on; `undefined` when the run is not active (it ended or never
   * ran: read the store). Events are stored synchronously before listeners hear of them, so the
   * caller reads the stored ones after subscribing (same tick) and then gets the live ones, without
   * a gap; it drops live events whose seq it already sent.
   */
  subscribe(runId: string, listener: (update: RunUpdate) => void): (() => void) | undefined {
    const active = this.#active.get(runId)
    if (active === undefined) return undefined
    active.listeners.add(listener)
    return () => active.listeners.delete(listener)
  }

  /** Stops taking runs, cancels every active one and resolves when all have ended and are stored. */
  async shutdown(reason = 'the server is stopping'): Promise<void> {
    this.#accepting = false
    for (const id of [...this.#active.keys()]) this.cancel(id, reason)
    await Promise.allSettled([...this.#active.values()].map((a) => a.done))
  }

  async #execute(run: RunRecord, active: Active, work: RunWork, jobId: string | null): Promise<void> {
    const { store, clock } = this.#options
    let error: unknown
    try {
      await this.#slot(active.controller.signal)
      store.updateRun(run.id, { status: 'running' })
      try {
        await work(this.#sinkOf(run.id, active), active.controller.signal)
      } finally {
        this.#release()
      }
    } catch (caught) {
      error = caught
    }
    const summary = summarizeRun(active.events, {
      final: true,
      stopped: active.stopped,
      ...(error === undefined ? {} : { error }),
    })
    const reason = summary.reason ?? (error === undefined ? null : errorMessage(error))
    store.updateRun(run.id, {
      status: summary.status === 'running' ? 'interrupted' : summary.status,
      reason,
      end: clock.now(),
      sizeBytes: summary.sizeBytes,
      vms: summary.vms,
    })
    const ended = store.getRun(run.id) ?? run
    this.#lastEndedAt = clock.now()
    this.#active.delete(run.id)
    if (jobId !== null && this.#jobRuns.get(jobId) === run.id) this.#jobRuns.delete(jobId)
    for (const listener of active.listeners) listener({ kind: 'end', run: ended })
    await this.#options.onRunEnd?.(ended).catch((e: unknown) => {
      this.#options.onWarning?.(`run ${run.id}: after the run: ${errorMessage(e)}`)
    })
  }

  #sinkOf(runId: string, active: Active): TaskSink {
    let storeFailed = false
    const vms = new LiveVms()
    return {
      write: (event) => {
        const seq = active.seq++
        if (event.event !== 'task.progress') active.events.push(event)
        try {
          this.#options.store.appendRunEvents(runId, [event])
          // The history shows a running run's VMs as they start and end, not only once it is over.
          if (vms.apply(event)) this.#options.store.updateRun(runId, { vms: vms.list() })
        } catch (error) {
          // The run goes on (its data is safe on the remote); the history lacks events from here.
          if (!storeFailed)
            this.#options.onWarning?.(`run ${runId}: task events not stored: ${errorMessage(error)}`)
          storeFailed = true
        }
        for (const listener of active.listeners) listener({ kind: 'event', seq, event })
      },
    }
  }

  async #slot(signal: AbortSignal): Promise<void> {
    const limit = Math.max(1, this.#options.concurrency ?? 2)
    if (this.#running < limit) {
      this.#running++
      return
    }
    await new Promise<void>((resolve, reject) => {
      const take = (): void => {
        signal.removeEventListener('abort', onAbort)
        this.#running++
        resolve()
      }
      const onAbort = (): void => {
        const at = this.#queue.indexOf(take)
        if (at >= 0) this.#queue.splice(at, 1)
        reject(signal.reason as Error)
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.#queue.push(take)
    })
  }

  #release(): void {
    this.#running--
    this.#queue.shift()?.()
  }
}

/** The VMs of a running run, from its VM tasks' start and end events. */
class LiveVms {
  readonly #byTask = new Map<string, RunVmSummary>()

  /** Applies `event`; true when the list changed. */
  apply(event: TaskEvent): boolean {
    if (
      event.event === 'task.start' &&
      event.data?.['type'] === 'VM' &&
      typeof event.data['id'] === 'string'
    ) {
      const name = event.data['name_label']
      this.#byTask.set(event.id, {
        uuid: event.data['id'],
        ...(typeof name === 'string' ? { name } : {}),
        status: 'pending',
      })
      return true
    }
    const vm = event.event === 'task.end' ? this.#byTask.get(event.id) : undefined
    if (vm === undefined || event.event !== 'task.end') return false
    this.#byTask.set(event.id, { ...vm, status: event.status })
    return true
  }

  list(): RunVmSummary[] {
    return [...this.#byTask.values()]
  }
}

const errorMessage = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/** Run service refusals: RUNS_STOPPED (shutting down), RUN_CANCELLED (the abort reason of a cancel). */
export class RunServiceError extends BackupError<'RUNS_STOPPED' | 'RUN_CANCELLED'> {}
