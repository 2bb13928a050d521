// The content of one disk written into an existing VDI (xapi.md §3.4): the block source becomes a
// VHD stream of exactly known length (planVhdStream: one block in memory at a time), sent to
// `PUT /import_raw_vdi?format=vhd` with that Content-Length. Restore and continuous replication
// both write disks this way; XAPI applies the stream's blocks onto what the VDI holds.
import { Readable } from 'node:stream'
import type { BlockSource } from '../../formats/block-source.ts'
import { planVhdStream } from '../../formats/vhd/vhd-stream-writer.ts'
import { isAbortError } from '../../shared/errors.ts'
import { newUuid } from '../../shared/ids.ts'
import type { Task } from '../../tasks/task.ts'
import type { XapiClient, XapiRef } from '../../xapi/types.ts'
import { RestoreError } from './restore-error.ts'
import { destroyTask, uploadSettledByTask } from './upload.ts'

// The stream's footer timestamp: XAPI reads the blocks and drops the VHD itself, so no clock is
// needed; the VHD epoch (2000-01-01) is the format's zero.
const VHD_EPOCH_MS = Date.UTC(2000, 0, 1)

/** What importVdiContent writes: into `vdiRef`, the blocks of `source`. */
export interface VdiContentInput {
  readonly vdiRef: XapiRef
  readonly source: BlockSource
  readonly signal?: AbortSignal
}

/**
 * Streams `source` as a dynamic VHD into the existing VDI `vdiRef` (at least `source.virtualSize`
 * big) through `PUT /import_raw_vdi?vdi=<ref>&format=vhd` with the exact Content-Length, memory
 * bounded to one block; reports progress (bytes sent of the total) on `task`. Resolves with the
 * bytes sent once XAPI's task succeeded. An abort and an error of the source (reading it) are
 * rethrown as they are; any other failure is RestoreError RESTORE_IMPORT_FAILED naming the VDI,
 * with XAPI's error as `cause`.
 */
export async function importVdiContent(
  xapi: XapiClient,
  input: VdiContentInput,
  task?: Task,
): Promise<{ readonly sizeBytes: number }> {
  const { vdiRef, source, signal } = input
  const stream = planVhdStream(source, { uniqueId: newUuid(), timestampMs: VHD_EPOCH_MS })
  const total = stream.sizeBytes
  let sent = 0
  // The source's own error (a truncated VHD, a cut export) says more than the upload it broke.
  let sourceError: { readonly error: unknown } | undefined
  async function* counted(): AsyncGenerator<Uint8Array> {
    const chunks = stream.chunks()
    try {
      for (;;) {
        // Only what pulling the source throws is the source's error: an error thrown in at the
        // yield (the upload's socket reset, destroying this generator) is the upload's.
        let next: IteratorResult<Uint8Array>
        try {
          next = await chunks.next()
        } catch (error) {
          sourceError = { error }
          throw error
        }
        if (next.done === true) return
        yield next.value
        sent += next.value.byteLength
        task?.progress(sent, total)
      }
    } finally {
      await chunks.return(undefined)
    }
  }
  const taskRef = await xapi.call('task.create', ['VDI import', `xapi-backup: content of VDI ${vdiRef}`])
  try {
    await uploadSettledByTask(xapi, {
      path: '/import_raw_vdi',
      query: { vdi: vdiRef, format: 'vhd' },
      body: Readable.from(counted()),
      lengthBytes: total,
      taskRef,
      ...(signal === undefined ? {} : { signal }),
      sourceFailed: () => sourceError !== undefined,
    })
  } catch (error) {
    if (signal?.aborted === true || isAbortError(error)) throw error
    if (sourceError !== undefined) throw sourceError.error
    const reason = error instanceof Error ? error.message : String(error)
    throw new RestoreError(
      'RESTORE_IMPORT_FAILED',
      `import of a disk into VDI ${vdiRef} failed after ${sent} of ${total} bytes: ${reason}`,
      { details: { object: vdiRef, sentBytes: sent, totalBytes: total }, cause: error },
    )
  } finally {
    await destroyTask(xapi, taskRef)
  }
  return { sizeBytes: total }
}
