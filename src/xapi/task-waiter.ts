import type { Clock } from '../shared/clock.ts'
import type { TaskRecord, XapiRef } from './record-types.ts'
import type { CallOptions, XapiClient, XapiValue } from './types.ts'
import { expectString, normalizeRecord } from './records.ts'
import { XapiError, isXapiErrorCode } from './xapi-error.ts'
import { decodeXmlRpcValueText } from './xml-rpc.ts'

/** What waiting for a task needs from the client. */
export type TaskWaitDeps = Pick<XapiClient, 'eventFrom'> & {
  call(method: string, args: readonly XapiValue[], options?: CallOptions): Promise<XapiValue>
  readonly clock: Clock
  /** Polling period when the server has no usable `event.from`. */
  readonly pollIntervalMs: number
  /** Server-side timeout of each `event.from` call. */
  readonly eventTimeoutSeconds: number
}

function isFinished(task: TaskRecord): boolean {
  return task.status !== 'pending' && task.status !== 'cancelling'
}

/**
 * The outcome of a finished task (xapi.md §1.6): `success` → its `result` decoded from XML-RPC
 * text (`""` stays `""`); `failure`/`cancelled` → XapiError with `error_info`'s code and params.
 */
export function taskOutcome(task: TaskRecord, method: string): XapiValue {
  if (task.status === 'success')
    return task.result === '' ? '' : decodeXmlRpcValueText(task.result, `${method} task result`)
  const [code, ...params] = task.error_info
  return failWith(code ?? (task.status === 'cancelled' ? 'TASK_CANCELLED' : 'UNKNOWN'), params, method)
}

function failWith(code: string, params: readonly string[], method: string): never {
  throw new XapiError(code, params, method)
}

async function readTask(deps: TaskWaitDeps, taskRef: XapiRef, options: CallOptions): Promise<TaskRecord> {
  return normalizeRecord('task', await deps.call('task.get_record', [taskRef], options), 'task.get_record')
}

async function pollTask(deps: TaskWaitDeps, taskRef: XapiRef, options: CallOptions): Promise<TaskRecord> {
  for (;;) {
    const task = await readTask(deps, taskRef, options)
    if (isFinished(task)) return task
    await deps.clock.sleep(deps.pollIntervalMs, options.signal)
  }
}

// Errors meaning "this server cannot serve events to us": fall back to polling (xapi.md §1.7).
function eventsUnavailable(error: unknown): boolean {
  return (
    isXapiErrorCode(error, 'MESSAGE_METHOD_UNKNOWN') ||
    isXapiErrorCode(error, 'EVENT_SUBSCRIPTION_PARSE_FAILURE')
  )
}

async function watchTask(deps: TaskWaitDeps, taskRef: XapiRef, options: CallOptions): Promise<TaskRecord> {
  // A token taken before reading the record: any change after the read shows up in event.from.
  const token = await deps.call('event.inject', ['task', taskRef], options)
  let task = await readTask(deps, taskRef, options)
  let next = expectString(token, 'event.inject')
  while (!isFinished(task)) {
    const batch = await deps.eventFrom(['task'], next, deps.eventTimeoutSeconds, options)
    next = batch.token
    for (const event of batch.events) {
      if (event.ref !== taskRef) continue
      if (event.operation === 'del') failWith('HANDLE_INVALID', ['task', taskRef], 'task wait')
      if (event.snapshot !== undefined) task = normalizeRecord('task', event.snapshot, 'task event')
    }
  }
  return task
}

/** Waits until `taskRef` is finished, through `event.from` with a polling fallback, and returns its record. */
export async function waitForTaskRecord(
  deps: TaskWaitDeps,
  taskRef: XapiRef,
  options: CallOptions,
): Promise<TaskRecord> {
  for (;;) {
    try {
      return await watchTask(deps, taskRef, options)
    } catch (error) {
      if (eventsUnavailable(error)) return await pollTask(deps, taskRef, options)
      // Events were dropped by the server: start over from a fresh token.
      if (!isXapiErrorCode(error, 'EVENTS_LOST')) throw error
    }
  }
}

/**
 * Waits for `taskRef` and returns its decoded result; when `options.signal` aborts, asks XAPI to
 * `task.cancel` it and rethrows the abort reason.
 */
export async function waitForTask(
  deps: TaskWaitDeps,
  taskRef: XapiRef,
  method: string,
  options: CallOptions,
): Promise<XapiValue> {
  try {
    options.signal?.throwIfAborted()
    return taskOutcome(await waitForTaskRecord(deps, taskRef, options), method)
  } catch (error) {
    if (options.signal?.aborted === true) {
      // Best effort: the caller's abort wins whatever cancel answers (xapi.md §1.6 task.cancel).
      await deps.call('task.cancel', [taskRef]).catch(() => undefined)
    }
    throw error
  }
}
