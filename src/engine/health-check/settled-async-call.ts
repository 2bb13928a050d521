// An `Async.<method>` call that can be aborted without losing what it made (xapi.md §1.6): an
// abort asks XAPI to cancel the task, but a task that was already finishing still creates its VM
// (a clone, a copy) or starts it. So after an abort this waits, for a bounded time, until the task
// has really ended, and hands a late success to the caller, which destroys what nobody else knows.
import type { Clock } from '../../shared/clock.ts'
import type { XapiClient, XapiRef, XapiValue } from '../../xapi/types.ts'
import { XapiError } from '../../xapi/xapi-error.ts'

/** How long an aborted call waits for its cancelled task to end before giving up on it. */
export const SETTLE_MS = 60_000

/** Options of callAsyncSettled. */
export interface SettledCallOptions {
  readonly signal: AbortSignal
  readonly clock: Clock
  /** Runs with the task's result when it succeeded although the call was aborted (never throws out). */
  readonly onLateSuccess?: (result: XapiValue) => Promise<void>
  /** Called when the cancelled task did not end within SETTLE_MS: what it makes may be left behind. */
  readonly onUnsettled?: (taskRef: XapiRef) => void
}

/**
 * Calls `Async.<method>(args)` and returns its decoded result, like `xapi.callAsync`. When
 * `signal` aborts, the task is cancelled (by `waitTask`), then awaited without the signal for at
 * most SETTLE_MS on `clock`; a success then goes to `onLateSuccess`, and the abort is rethrown.
 */
export async function callAsyncSettled(
  xapi: XapiClient,
  method: string,
  args: readonly XapiValue[],
  options: SettledCallOptions,
): Promise<XapiValue> {
  const { signal, clock } = options
  signal.throwIfAborted()
  // Not aborted mid-flight: a task whose creating answer we dropped could be neither awaited nor cancelled.
  const taskRef = await xapi.call(`Async.${method}`, args)
  if (typeof taskRef !== 'string')
    throw new TypeError(`Async.${method}: expected a task ref, got ${typeof taskRef}`)
  let settled = true
  try {
    return await xapi.waitTask(taskRef, { signal })
  } catch (error) {
    // The task's error is XAPI's answer to the method: named after it, as `callAsync` does.
    if (!signal.aborted && error instanceof XapiError && error.method === 'task')
      throw new XapiError(error.code, error.params, method)
    if (!signal.aborted) throw error
    settled = await settle(xapi, taskRef, clock, options.onLateSuccess)
    if (!settled) options.onUnsettled?.(taskRef)
    throw error
  } finally {
    if (settled) await xapi.call('task.destroy', [taskRef]).catch(() => undefined)
  }
}

/** Waits (bounded) for a cancelled task to end; true once it has ended, whatever its outcome. */
async function settle(
  xapi: XapiClient,
  taskRef: XapiRef,
  clock: Clock,
  onLateSuccess: ((result: XapiValue) => Promise<void>) | undefined,
): Promise<boolean> {
  const bound = new AbortController()
  const timer = new AbortController()
  clock.sleep(SETTLE_MS, timer.signal).then(
    () => {
      bound.abort()
    },
    () => undefined,
  )
  try {
    const result = await xapi.waitTask(taskRef, { signal: bound.signal })
    await onLateSuccess?.(result).catch(() => undefined)
    return true
  } catch (error) {
    // Failed or cancelled (an XAPI error): ended, nothing made. Unreachable or too slow: not known to have ended.
    return error instanceof XapiError && !bound.signal.aborted
  } finally {
    timer.abort()
  }
}
