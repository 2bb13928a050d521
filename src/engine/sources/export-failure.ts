// Turning whatever stopped an export into one clear error: which object, where in the body, what
// was expected and what came, plus what XAPI's task said (a cut body fails the task too).
import { VhdError } from '../../formats/vhd/index.ts'
import { isAbortError } from '../../shared/errors.ts'
import type { Json } from '../../shared/json.ts'
import type { ExportErrorCode } from './export-error.ts'
import { ExportError, exportError } from './export-error.ts'
import type { ExportDownload } from './export-download.ts'

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/**
 * Closes `download` (the task ends, cancelled or failed) and returns the error to throw: the
 * abort reason when `signal` fired, EXPORT_CLOSED when the download was closed on purpose, the
 * error itself when it already is an ExportError, else EXPORT_BROKEN (or `override`) naming the
 * offset, expected and got, with the task's error in the message and details.
 */
export async function explainFailure(
  download: ExportDownload,
  error: unknown,
  signal: AbortSignal | undefined,
  override?: { readonly code: ExportErrorCode; readonly message: string },
): Promise<unknown> {
  const closedBefore = download.closeReason
  await download.close(error)
  if (signal?.aborted === true) return signal.reason
  if (isAbortError(error)) return error
  const { subject, bytesRead } = download
  if (closedBefore !== undefined) {
    return exportError('EXPORT_CLOSED', subject, `closed after ${bytesRead} bytes of the body`, {
      cause: closedBefore.reason ?? error,
      details: { bytesRead },
    })
  }
  if (error instanceof ExportError) return error
  const taskError = await download.outcome().then(
    () => undefined,
    (failure: unknown) => failure,
  )
  const task = taskError === undefined ? '' : ` (XAPI task: ${messageOf(taskError)})`
  const details: Record<string, Json> = { bytesRead }
  if (taskError !== undefined) details.task = messageOf(taskError)
  if (error instanceof VhdError) {
    const { offset, field, expected, got } = error.issue
    Object.assign(details, { offset, field, expected, got })
  }
  const where =
    error instanceof VhdError
      ? `${error.issue.field} at byte ${error.issue.offset}: expected ${error.issue.expected}, got ${error.issue.got}`
      : `at byte ${bytesRead}: ${messageOf(error)}`
  if (override !== undefined)
    return exportError(override.code, subject, override.message + task, { cause: error, details })
  return exportError('EXPORT_BROKEN', subject, `the body is cut or invalid: ${where}${task}`, {
    cause: error,
    details,
  })
}

/** Waits for the export's task after its body was read; a failed task becomes EXPORT_TASK_FAILED. */
export async function taskOutcomeOf(
  download: ExportDownload,
  signal: AbortSignal | undefined,
): Promise<void> {
  try {
    await download.outcome(signal === undefined ? {} : { signal })
  } catch (error) {
    if (signal?.aborted === true || isAbortError(error)) throw error
    throw exportError('EXPORT_TASK_FAILED', download.subject, `the XAPI task failed: ${messageOf(error)}`, {
      cause: error,
    })
  }
}
