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

/**
 * PUTs the upload and returns its task's decoded result. A failure other than an abort or the
 * source's own is settled by waiting (bounded) for the task: its result if it succeeded, its
 * XapiError if it failed, else the PUT's error.
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
    if (signal?.aborted === true || isAbortError(error) || upload.sourceFailed()) throw error
    const bounded = AbortSignal.timeout(SETTLE_WAIT_MS)
    const outcome = await xapi
      .waitTask(upload.taskRef, {
        signal: signal === undefined ? bounded : AbortSignal.any([signal, bounded]),
      })
      .then(
        (result) => ({ result }),
        (taskError: unknown) => ({ taskError }),
      )
    if ('result' in outcome) return outcome.result
    throw isAbortError(outcome.taskError) ? error : outcome.taskError
  }
}
