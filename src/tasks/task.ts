import type { Clock } from '../shared/clock.ts'
import { systemClock } from '../shared/clock.ts'
import { BackupError, serializeError } from '../shared/errors.ts'
import { newTaskId } from '../shared/ids.ts'
import type { Json, JsonObject } from '../shared/json.ts'
import type { EndStatus, TaskSink } from './events.ts'
import { redact, redactObject, redactText } from './redact.ts'

/** What a task is about: the seed's `task.start(message?, data?)`. */
export interface TaskProperties {
  readonly message?: string
  readonly data?: JsonObject
}

/** Options of Task.run. */
export interface RunOptions<T> {
  /** Maps the function's value to the `task.end` result; default: the value itself when it is plain JSON. */
  readonly result?: (value: T) => Json | undefined
}

/**
 * A node of the task log, passed explicitly as the last parameter of engine functions.
 * `signal` aborts when this task's parent aborts; children inherit it.
 */
export interface Task {
  readonly id: string
  readonly signal: AbortSignal
  info(message: string, data?: JsonObject): void
  warning(message: string, data?: JsonObject): void
  /** Reports progress; emitted at most once a second per task, and always when done reaches total. */
  progress(done: number, total?: number): void
  /** Runs `fn` as a child task: `task.start`, then `task.end` with its result or error (rethrown). */
  run<T>(properties: TaskProperties, fn: (task: Task) => Promise<T>, options?: RunOptions<T>): Promise<T>
}

/** Thrown inside a task to end it as `skipped` (e.g. a VM without disks) instead of `failure`. */
export class TaskSkipped extends BackupError<'TASK_SKIPPED'> {
  constructor(reason: string) {
    super('TASK_SKIPPED', reason)
  }
}

/** The context shared by every task of one log. */
export interface TaskContext {
  readonly sink: TaskSink
  readonly clock?: Clock
  readonly signal?: AbortSignal
}

const PROGRESS_INTERVAL_MS = 1000
const NEVER_ABORTED = new AbortController().signal

/** Plain JSON check for default results: class instances, functions and cycles are not results. */
function asJson(value: unknown, depth = 0): Json | undefined {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined
  if (depth > 32 || typeof value !== 'object') return undefined
  if (Array.isArray(value)) {
    const items = value.map((v) => asJson(v, depth + 1))
    return items.includes(undefined) ? undefined : (items as Json[])
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return undefined
  const out: Record<string, Json> = {}
  for (const [k, v] of Object.entries(value)) {
    const item = asJson(v, depth + 1)
    if (item !== undefined) out[k] = item
  }
  return out
}

function endStatusOf(error: unknown): EndStatus {
  return error instanceof TaskSkipped ? 'skipped' : 'failure'
}

class TaskNode implements Task {
  readonly id: string
  readonly signal: AbortSignal
  readonly #context: Required<Pick<TaskContext, 'sink' | 'clock'>>
  #lastProgressMs = -Infinity

  constructor(id: string, signal: AbortSignal, context: Required<Pick<TaskContext, 'sink' | 'clock'>>) {
    this.id = id
    this.signal = signal
    this.#context = context
  }

  #log(event: 'task.info' | 'task.warning', message: string, data: JsonObject | undefined): void {
    const timestamp = this.#context.clock.now()
    const safeMessage = redactText(message)
    this.#context.sink.write(
      data === undefined
        ? { event, id: this.id, timestamp, message: safeMessage }
        : { event, id: this.id, timestamp, message: safeMessage, data: redactObject(data) },
    )
  }

  info(message: string, data?: JsonObject): void {
    this.#log('task.info', message, data)
  }

  warning(message: string, data?: JsonObject): void {
    this.#log('task.warning', message, data)
  }

  progress(done: number, total?: number): void {
    const timestamp = this.#context.clock.now()
    if (timestamp - this.#lastProgressMs < PROGRESS_INTERVAL_MS && done !== total) return
    this.#lastProgressMs = timestamp
    const event = { event: 'task.progress', id: this.id, timestamp, done } as const
    this.#context.sink.write(total === undefined ? event : { ...event, total })
  }

  run<T>(properties: TaskProperties, fn: (task: Task) => Promise<T>, options?: RunOptions<T>): Promise<T> {
    return runTaskIn(this.#context, this.id, this.signal, properties, fn, options)
  }
}

async function runTaskIn<T>(
  context: Required<Pick<TaskContext, 'sink' | 'clock'>>,
  parentId: string | undefined,
  parentSignal: AbortSignal | undefined,
  properties: TaskProperties,
  fn: (task: Task) => Promise<T>,
  options: RunOptions<T> = {},
): Promise<T> {
  const { sink, clock } = context
  const id = newTaskId(clock.now())
  // Children share their parent's signal: aborting a job aborts every task under it.
  const signal = parentSignal ?? NEVER_ABORTED
  sink.write({
    event: 'task.start',
    id,
    ...(parentId === undefined ? {} : { parentId }),
    timestamp: clock.now(),
    ...(properties.message === undefined ? {} : { message: redactText(properties.message) }),
    ...(properties.data === undefined ? {} : { data: redactObject(properties.data) }),
  })
  let value: T
  try {
    signal.throwIfAborted()
    value = await fn(new TaskNode(id, signal, context))
  } catch (error) {
    sink.write({
      event: 'task.end',
      id,
      timestamp: clock.now(),
      status: endStatusOf(error),
      error: redactObject(serializeError(error)),
    })
    throw error
  }
  const result = options.result === undefined ? asJson(value) : options.result(value)
  sink.write({
    event: 'task.end',
    id,
    timestamp: clock.now(),
    status: 'success',
    ...(result === undefined ? {} : { result: redact(result) }),
  })
  return value
}

/**
 * Runs `fn` as a root task (no job around it, like the seed's restore tree): `task.start` without
 * parent, then `task.end`. The error, if any, is recorded then rethrown.
 */
export function runRootTask<T>(
  context: TaskContext,
  properties: TaskProperties,
  fn: (task: Task) => Promise<T>,
  options?: RunOptions<T>,
): Promise<T> {
  return runTaskIn(
    { sink: context.sink, clock: context.clock ?? systemClock },
    undefined,
    context.signal,
    properties,
    fn,
    options,
  )
}

/**
 * Runs a job: `job.start(data)`, `fn` with the job as the parent task, then `job.end` with the
 * job's own status. The error, if any, is recorded then rethrown.
 */
export async function runJob<T>(
  context: TaskContext,
  data: JsonObject,
  fn: (job: Task) => Promise<T>,
): Promise<T> {
  const sink = context.sink
  const clock = context.clock ?? systemClock
  const id = newTaskId(clock.now())
  const signal = context.signal ?? NEVER_ABORTED
  sink.write({ event: 'job.start', id, timestamp: clock.now(), data: redactObject(data) })
  try {
    signal.throwIfAborted()
    const value = await fn(new TaskNode(id, signal, { sink, clock }))
    sink.write({ event: 'job.end', id, timestamp: clock.now(), status: 'success' })
    return value
  } catch (error) {
    const error_ = redactObject(serializeError(error))
    sink.write({ event: 'job.end', id, timestamp: clock.now(), status: endStatusOf(error), error: error_ })
    throw error
  }
}
