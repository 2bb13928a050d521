// A VM from an XVA stream through `PUT /import?sr_id=` (xapi.md §3.2): XAPI creates the VM, its
// disks and devices, then streams the disks; its task's result is the set of VM refs it created.
// XAPI removes what a failed import created; in case it did not (an import cancelled after the
// objects were made, an abort racing the end), every VM and VDI carrying this import's task ref
// (`other_config.import_task`, `sm_config.import_task`) is destroyed before the error is rethrown.
import { Readable } from 'node:stream'
import type { Clock } from '../../shared/clock.ts'
import { isAbortError } from '../../shared/errors.ts'
import type { Task } from '../../tasks/task.ts'
import type { XapiClient, XapiRef, XapiValue } from '../../xapi/types.ts'
import { RestoreError } from './restore-error.ts'
import { describeLeftovers, Rollback } from './rollback.ts'
import { cancelAndWait, destroyTask, uploadSettledByTask } from './upload.ts'

/** What importXva reads and where it puts the VM. */
export interface XvaImportInput {
  readonly stream: AsyncIterable<Uint8Array>
  /** Exact length of the stream in bytes (Content-Length). */
  readonly lengthBytes: number
  readonly srRef: XapiRef
  readonly signal?: AbortSignal
  readonly clock?: Clock
}

/** The first VM ref of an import task's result (a ref set; one ref alone is accepted too). */
function firstVm(result: XapiValue): XapiRef | undefined {
  const refs = Array.isArray(result) ? (result as readonly XapiValue[]) : [result]
  const ref = refs.find((r) => typeof r === 'string' && r.startsWith('OpaqueRef:') && r !== 'OpaqueRef:NULL')
  return typeof ref === 'string' ? ref : undefined
}

/** Cancels the import task, waits (bounded) for it to end, then destroys what still names it. */
async function removeImportLeftovers(xapi: XapiClient, taskRef: XapiRef, clock?: Clock): Promise<string> {
  await cancelAndWait(xapi, taskRef)
  const rollback = new Rollback(xapi, clock)
  const [vms, vdis] = await Promise.all([xapi.getAllRecords('VM'), xapi.getAllRecords('VDI')])
  for (const [ref, vm] of vms) if (vm.other_config.import_task === taskRef) rollback.add('VM', ref)
  // Added after the VMs, so destroyed before them (newest first).
  for (const [ref, vdi] of vdis) if (vdi.sm_config.import_task === taskRef) rollback.add('VDI', ref)
  return describeLeftovers(await rollback.destroyAll())
}

/**
 * Imports the XVA `stream` onto `srRef` and resolves with the new VM's ref and the bytes sent
 * (progress on `task`). A stream error (a checksum that does not match, a remote read failing) is
 * rethrown as it is, an abort too; an XAPI failure is RestoreError RESTORE_IMPORT_FAILED naming the
 * SR. Whatever the failure, nothing of the import is left on the pool (or the message says what is).
 */
export async function importXva(
  xapi: XapiClient,
  input: XvaImportInput,
  task?: Task,
): Promise<{ readonly vmRef: XapiRef; readonly sizeBytes: number }> {
  const { srRef, signal, lengthBytes } = input
  const taskRef = await xapi.call('task.create', ['VM import', `xapi-backup: import onto SR ${srRef}`])
  // Pulled by hand, not by for-await: when XAPI stops reading at the tar's end, the stream is not
  // closed, so its rest can still be read to finish verifying it (a checksum is known at the end).
  const iterator = input.stream[Symbol.asyncIterator]()
  // An object, not a `let`: it is set inside closures, which flow analysis does not follow.
  const state = { finished: false }
  let sent = 0
  let sourceError: { readonly error: unknown } | undefined
  const pull = async (): Promise<Uint8Array | undefined> => {
    try {
      const next = await iterator.next()
      if (next.done === true) state.finished = true
      else {
        sent += next.value.byteLength
        task?.progress(sent, lengthBytes)
      }
      return next.done === true ? undefined : next.value
    } catch (error) {
      sourceError = { error }
      state.finished = true
      throw error
    }
  }
  async function* body(): AsyncGenerator<Uint8Array> {
    for (let chunk = await pull(); chunk !== undefined; chunk = await pull()) yield chunk
  }
  try {
    const result = await uploadSettledByTask(xapi, {
      path: '/import',
      query: { sr_id: srRef },
      body: Readable.from(body()),
      lengthBytes,
      taskRef,
      ...(signal === undefined ? {} : { signal }),
      sourceFailed: () => sourceError !== undefined,
    })
    // XAPI may have finished before the stream's end: read the rest, so its checksum is verified.
    while (!state.finished) await pull()
    // A pull still in flight when the upload ended may have failed on its own, unawaited.
    if (sourceError !== undefined) throw sourceError.error
    const vmRef = firstVm(result)
    if (vmRef === undefined)
      throw new RestoreError(
        'RESTORE_IMPORT_FAILED',
        `import onto SR ${srRef}: XAPI named no VM (got ${JSON.stringify(result).slice(0, 200)})`,
        { details: { object: srRef } },
      )
    return { vmRef, sizeBytes: sent }
  } catch (error) {
    const left = await removeImportLeftovers(xapi, taskRef, input.clock).catch(
      (cleanup: unknown) =>
        `; could not look for what the import left: ${cleanup instanceof Error ? cleanup.message : String(cleanup)}`,
    )
    const primary = sourceError?.error ?? error
    if (
      left === '' &&
      (signal?.aborted === true ||
        isAbortError(primary) ||
        sourceError !== undefined ||
        primary instanceof RestoreError)
    )
      throw primary
    const reason = primary instanceof Error ? primary.message : String(primary)
    throw new RestoreError(
      'RESTORE_IMPORT_FAILED',
      `import of an XVA onto SR ${srRef} failed after ${sent} of ${lengthBytes} bytes: ${reason}${left}`,
      { details: { object: srRef, sentBytes: sent, totalBytes: lengthBytes }, cause: primary },
    )
  } finally {
    if (!state.finished) await iterator.return?.().catch(() => undefined)
    await destroyTask(xapi, taskRef)
  }
}
