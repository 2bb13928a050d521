// A VM (a snapshot, in practice) as the XVA byte stream of `GET /export` (xapi.md §3.1;
// xen-orchestra-backups.md §3.3), compressed by the host as the job asks. The bytes are passed on
// as they come: the repository writer checksums them while writing (backup-target.ts runFull).
import { detectCompression } from '../../formats/xva/index.ts'
import type { XvaCompression } from '../../formats/xva/index.ts'
import type { XapiClient, XapiRef } from '../../xapi/types.ts'
import type { Compression } from '../run-description.ts'
import type { ExportSubject } from './export-error.ts'
import { exportError } from './export-error.ts'
import type { DownloadOptions } from './export-download.ts'
import { refuseHttpPage, startDownload } from './export-download.ts'
import { explainFailure, taskOutcomeOf } from './export-failure.ts'

/** Options of openVmExport. */
export interface VmExportOptions extends DownloadOptions {
  readonly vmRef: XapiRef
  /** The job's compression: '' none, 'native' gzip, 'zstd'. */
  readonly compression: Compression
  /** For messages only (`VM <uuid> (<ref>)`); default: the ref alone. */
  readonly vmUuid?: string
}

/** A VM export being read. */
export interface VmExport {
  readonly taskRef: XapiRef
  /**
   * The XVA bytes, as XAPI sends them (compressed as asked: checked on the first bytes); iterable
   * once. Errors: ExportError (EXPORT_BROKEN with the byte offset, EXPORT_UNEXPECTED_FORMAT,
   * EXPORT_CLOSED) or the abort reason; the download is closed first, so its task ends.
   */
  readonly stream: AsyncIterable<Uint8Array>
  /** Body bytes read so far (the XVA's size once the stream ended). */
  readonly bytesRead: number
  /** After the stream ended: waits for the XAPI task; EXPORT_TASK_FAILED if it failed. */
  result(): Promise<void>
  /** Aborts the download, cancels the task and waits (bounded) for it to end; idempotent, never throws. */
  close(reason?: unknown): Promise<void>
}

/** `use_compression` for the job's compression (xapi.md §3.1: true → gzip, zstd → zstd, false → none). */
const QUERY_VALUES: Readonly<Record<Compression, string>> = { '': 'false', native: 'true', zstd: 'zstd' }
const EXPECTED: Readonly<Record<Compression, XvaCompression>> = { '': 'none', native: 'gzip', zstd: 'zstd' }

/**
 * Starts `GET /export?ref=<vmRef>&use_compression=…` and returns its body as a stream read with
 * backpressure (through the job's rate limiter), refusing a body whose first bytes are an XAPI
 * error page or not of the asked compression (a metadata claiming zstd over a plain tar would lie).
 */
export async function openVmExport(xapi: XapiClient, options: VmExportOptions): Promise<VmExport> {
  const { vmRef, compression, signal } = options
  const use = QUERY_VALUES[compression]
  const subject: ExportSubject = {
    kind: 'VM',
    ref: vmRef,
    uuid: options.vmUuid ?? '?',
    request: `GET /export?use_compression=${use}`,
  }
  const download = await startDownload(
    xapi,
    subject,
    '/export',
    { ref: vmRef, use_compression: use },
    options,
  )
  const checkHead = (head: Uint8Array): void => {
    refuseHttpPage(subject, head)
    const got = detectCompression(head)
    if (got !== EXPECTED[compression]) {
      throw exportError(
        'EXPORT_UNEXPECTED_FORMAT',
        subject,
        `byte 0: expected an XVA compressed with ${EXPECTED[compression]} (use_compression=${use}), got ${got}`,
      )
    }
  }
  let used = false
  let complete = false
  async function* read(): AsyncGenerator<Uint8Array> {
    if (used) throw new RangeError(`${subject.request}: the stream can be read once`)
    used = true
    try {
      yield* download.chunks(checkHead)
      complete = true
    } catch (error) {
      throw await explainFailure(download, error, signal)
    } finally {
      if (!complete) await download.close()
    }
  }
  return {
    taskRef: download.taskRef,
    stream: { [Symbol.asyncIterator]: () => read() },
    get bytesRead() {
      return download.bytesRead
    },
    result: () => taskOutcomeOf(download, signal),
    close: (reason) => download.close(reason),
  }
}
