import type { Json, JsonObject } from '../shared/json.ts'

/**
 * The task-log vocabulary of the seed ("Task logs"): one event per line in a JSONL file.
 * `id` is always the task (or job) the event is about; `parentId` appears on `task.start` only;
 * `timestamp` is epoch milliseconds from the injected Clock.
 */
export type TaskEvent =
  JobStartEvent | JobEndEvent | TaskStartEvent | TaskEndEvent | TaskLogEvent | TaskProgressEvent

/** A job run begins; `data` is the seed's `{ mode, reportWhen, … }`. */
export interface JobStartEvent {
  readonly event: 'job.start'
  readonly id: string
  readonly timestamp: number
  readonly data: JsonObject
}

/** A job run ends; `status` is the job's own outcome (the run status is computed from the tree). */
export interface JobEndEvent {
  readonly event: 'job.end'
  readonly id: string
  readonly timestamp: number
  readonly status: EndStatus
  readonly error?: JsonObject
}

/** A task starts under `parentId` (a job or a task; absent for a root task such as a restore). */
export interface TaskStartEvent {
  readonly event: 'task.start'
  readonly id: string
  readonly parentId?: string
  readonly timestamp: number
  readonly message?: string
  readonly data?: JsonObject
}

/** A task ends with a result (success, skipped) or an error (failure). */
export interface TaskEndEvent {
  readonly event: 'task.end'
  readonly id: string
  readonly timestamp: number
  readonly status: EndStatus
  readonly result?: Json
  readonly error?: JsonObject
}

/** `task.info` / `task.warning` attached to the task or job `id`. */
export interface TaskLogEvent {
  readonly event: 'task.info' | 'task.warning'
  readonly id: string
  readonly timestamp: number
  readonly message: string
  readonly data?: JsonObject
}

/** Progress of task `id`: `done` out of `total` (same unit, e.g. bytes). */
export interface TaskProgressEvent {
  readonly event: 'task.progress'
  readonly id: string
  readonly timestamp: number
  readonly done: number
  readonly total?: number
}

/** How a task or job ended by itself. */
export type EndStatus = 'success' | 'failure' | 'skipped'

/** Every event name, for validation of logs read back. */
export const EVENT_NAMES: ReadonlySet<string> = new Set([
  'job.start',
  'job.end',
  'task.start',
  'task.end',
  'task.info',
  'task.warning',
  'task.progress',
])

/** The step names of the seed's backup and restore trees: a contract that reports rely on. */
export const STEP = {
  snapshot: 'snapshot',
  export: 'export',
  transfer: 'transfer',
  clean: 'clean',
  merge: 'merge',
  restore: 'restore',
} as const

/** One of the seed's step names. */
export type StepName = (typeof STEP)[keyof typeof STEP]

/** Where events go: sinks are synchronous to call; durable sinks flush in the background. */
export interface TaskSink {
  write(event: TaskEvent): void
}
