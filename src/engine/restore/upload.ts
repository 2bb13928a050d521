// One upload to an XAPI import handler (`/import`, `/import_raw_vdi`) whose outcome is its task's.
// XAPI reads an upload up to the end of the data's own structure (the XVA's tar end, the VHD's
// footer), answers, and closes the connection (xapi.md §3.2, §3.4): a client still finishing its
// request may then see the connection fail although the import succeeded. So a failed PUT is
// settled by the handler's task: its result when it succeeded, its error when it failed (more
// precise than the transport's: SR_BACKEND_FAILURE_44 rather than a reset connection).
import type { Readable } from 'node:stream'
import { isAbortError } from '../../shared/errors.ts'
import type { ResourceQuery, XapiClient, XapiRef, XapiValue } from '../../xapi/types.ts'

// How long the task of a failed upload is waited for before the upload's own error is kept.
const SETTLE_WAIT_MS = 120_000
// How long a cancelled task is waited for. Its upload's connection is gone by then, so a running
// handler fails at its next read, within moments; a task whose request never reached XAPI never
// ends, and this is what a Ctrl-C at the very start of a transfer waits. A handler slower than
// this only makes the rollback retry its VDI.destroy (VDI_IN_USE) a few times.
const CANCEL_WAIT_MS = 5_000

/** One upload: where, what, how long, in which task. */
export interface TaskUpload {
  readonly path: string
  readonly query: ResourceQuery
  readonly body: Readable
  readonly lengthBytes: number
  /** A task made by the caller (`task.create`), so that it can look for what the import left. */
  readonly taskRef: XapiRef
  readonly signal?: AbortSignal
  /** True when the body failed on its own (then its error stands, whatever the task says). */
  readonly sourceFailed: () => boolean
}

const FINISHED = new Set(['success', 'failure', 'cancelled'])

/** True when the task has ended (or is gone); false while pending or cancelling. */
async function isFinished(xapi: XapiClient, taskRef: XapiRef): Promise<boolean> {
  try {
    const status = await xapi.call('task.get_status', [taskRef])
    return typeof status !== 'string' || FINISHED.has(status)
  } catch {
    return true
  }
}

/**
 * Cancels `taskRef` unless it has ended and waits (bounded) for it to end, so that XAPI releases
 * the VDI its handler holds before any cleanup. A task whose handler never ran (the request was
 * aborted before XAPI read it) never ends by itself: once the wait is over it is set `cancelled`
 * (what XO does before destroying a task), so a later call returns at once.
 */
export async function cancelAndWait(xapi: XapiClient, taskRef: XapiRef): Promise<void> {
  if (await isFinished(xapi, taskRef)) return
  await xapi.call('task.cancel', [taskRef]).catch(() => undefined)
  await xapi.waitTask(taskRef, { signal: AbortSignal.timeout(CANCEL_WAIT_MS) }).catch(() => undefined)
  if (!(await isFinished(xapi, taskRef)))
    await xapi.call('task.set_status', [taskRef, 'cancelled']).catch(() => undefined)
}

/**
 * Destroys a task made by `task.create`; one still pending (its handler never ran) is first set
 * `cancelled`, as XO does, since XAPI only marks a pending task for destruction.
 */
export async function destroyTask(xapi: XapiClient, taskRef: XapiRef): Promise<void> {
  if (!(await isFinished(xapi, taskRef)))
    await xapi.call('task.set_status', [taskRef, 'cancelled']).catch(() => undefined)
  await xapi.call('task.destroy', [taskRef]).catch(() => undefined)
}

/**
 * PUTs the upload and returns its task's decoded result. A failure other than an abort or the
 * source's own is settled by waiting (bounded) for the task: its result if it succeeded, its
 * XapiError if it failed, else the PUT's error. Whenever it throws, the task was cancelled (if
 * still running) and waited for first: XAPI holds the VDI attached while its handler runs.
 */
export async function uploadSettledByTask(xapi: XapiClient, upload: TaskUpload): Promise<XapiValue> {
  const { signal } = upload
  try {
    return await xapi.putResource(upload.path, upload.query, upload.body, {
      lengthBytes: upload.lengthBytes,
      taskRef: upload.taskRef,
      ...(signal === undefined ? {} : { signal }),
    })
  } catch (error) {
    if (signal?.aborted === true || isAbortError(error) || upload.sourceFailed()) {
      await cancelAndWait(xapi, upload.taskRef)
      throw error
    }
    const outcome = await xapi.waitTask(upload.taskRef, { signal: AbortSignal.timeout(SETTLE_WAIT_MS) }).then(
      (result) => ({ result }),
      (taskError: unknown) => ({ taskError }),
    )
    if ('result' in outcome) return outcome.result
    if (isAbortError(outcome.taskError)) {
      await cancelAndWait(xapi, upload.taskRef)
      throw error
    }
    throw outcome.taskError
  }
}
