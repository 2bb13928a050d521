// A VDI's content as a BlockSource read while it streams from `/export_raw_vdi?format=vhd[&base=]`
// (xapi.md §3.3, §5.2; xen-orchestra-backups.md §3.9 "Stream"): the footer, header and BAT are read
// when the export is opened, so blockIndexes are known up front; blocks are then read in file
// order with one block in memory (parseVhdStream), whatever the disk's size.
import type { BlockSource, DiskBlock } from '../../formats/block-source.ts'
import { DiskType, VhdError, parseVhdStream } from '../../formats/vhd/index.ts'
import type { ParsedVhdStream } from '../../formats/vhd/index.ts'
import { isAbortError } from '../../shared/errors.ts'
import type { VdiRecord, XapiClient, XapiRef } from '../../xapi/types.ts'
import type { ExportSubject } from './export-error.ts'
import { exportError } from './export-error.ts'
import type { DownloadOptions, ExportDownload } from './export-download.ts'
import { refuseHttpPage, startDownload } from './export-download.ts'
import { explainFailure, taskOutcomeOf } from './export-failure.ts'

/** Options of openVdiExport. */
export interface VdiExportOptions extends DownloadOptions {
  readonly vdiRef: XapiRef
  /** An older snapshot of the same disk: the export is then a differencing VHD of the changed blocks only. */
  readonly baseVdiRef?: XapiRef
}

/** A VDI export being read: a single-use BlockSource plus its XAPI task. */
export interface VdiExport extends BlockSource {
  readonly vdiRef: XapiRef
  readonly vdiUuid: string
  /** 'differencing' exactly when a base was given (checked when opened). */
  readonly diskType: 'dynamic' | 'differencing'
  readonly taskRef: XapiRef
  /** Body bytes read so far. */
  readonly bytesRead: number
  /**
   * The blocks in file order (one in memory at a time); callable once. Errors are ExportError
   * (EXPORT_BROKEN naming the VDI, the offset, expected and got; EXPORT_CLOSED) or the abort reason;
   * on any error or early stop the download is closed first, so the task is not left pending.
   */
  blocks(): AsyncIterable<DiskBlock>
  /** After blocks() ended: waits for the XAPI task; EXPORT_TASK_FAILED if it failed. */
  result(): Promise<void>
  /** Aborts the download, cancels the task and waits (bounded) for it to end; idempotent, never throws. */
  close(reason?: unknown): Promise<void>
}

async function subjectOf(
  xapi: XapiClient,
  options: VdiExportOptions,
): Promise<{ subject: ExportSubject; vdi: VdiRecord; baseUuid: string | undefined }> {
  const { vdiRef, baseVdiRef, signal } = options
  const base = baseVdiRef === undefined ? '' : `&base=${baseVdiRef}`
  const fallback: ExportSubject = {
    kind: 'VDI',
    ref: vdiRef,
    uuid: '?',
    request: `GET /export_raw_vdi?format=vhd${base}`,
  }
  try {
    const call = signal === undefined ? {} : { signal }
    const vdi = await xapi.getRecord('VDI', vdiRef, call)
    const baseUuid =
      baseVdiRef === undefined ? undefined : (await xapi.getRecord('VDI', baseVdiRef, call)).uuid
    const request = `GET /export_raw_vdi?format=vhd${baseUuid === undefined ? '' : `&base=${baseUuid}`}`
    return { subject: { ...fallback, uuid: vdi.uuid, request }, vdi, baseUuid }
  } catch (error) {
    if (isAbortError(error) || signal?.aborted === true) throw error
    const reason = error instanceof Error ? error.message : String(error)
    throw exportError('EXPORT_REFUSED', fallback, `cannot read the VDI records: ${reason}`, { cause: error })
  }
}

/** Refuses a stream whose size or type is not the one asked for (the download is closed first). */
async function checkParsed(
  download: ExportDownload,
  parsed: ParsedVhdStream,
  vdi: VdiRecord,
  baseUuid: string | undefined,
): Promise<void> {
  const { subject } = download
  if (parsed.footer.currentSize !== vdi.virtual_size) {
    await download.close()
    throw exportError(
      'EXPORT_SIZE_MISMATCH',
      subject,
      `footer.currentSize at byte 48: expected the VDI's virtual_size ${vdi.virtual_size}, got ${parsed.footer.currentSize}`,
      { details: { expected: vdi.virtual_size, got: parsed.footer.currentSize } },
    )
  }
  const expected = baseUuid === undefined ? DiskType.dynamic : DiskType.differencing
  if (parsed.footer.diskType !== expected) {
    await download.close()
    const what =
      baseUuid === undefined
        ? 'a dynamic VHD (a full export)'
        : `a differencing VHD (a delta over VDI ${baseUuid})`
    throw exportError(
      'EXPORT_UNEXPECTED_FORMAT',
      subject,
      `footer.diskType at byte 60: expected ${what}, got disk type ${parsed.footer.diskType}`,
      { details: { expected, got: parsed.footer.diskType } },
    )
  }
}

/**
 * Opens `/export_raw_vdi?format=vhd[&base=]` of `vdiRef` and reads its footer, header and BAT:
 * the result's blockIndexes (the changed blocks only for a delta) are known before blocks() is read.
 * Refuses (closing the download) a stream that is not dynamic (no base) or differencing (a base),
 * or whose size is not the VDI's virtual_size; memory is bounded by one block, not by the disk.
 */
export async function openVdiExport(xapi: XapiClient, options: VdiExportOptions): Promise<VdiExport> {
  const { vdiRef, baseVdiRef, signal } = options
  const { subject, vdi, baseUuid } = await subjectOf(xapi, options)
  const query = { vdi: vdiRef, format: 'vhd', ...(baseVdiRef === undefined ? {} : { base: baseVdiRef }) }
  const download = await startDownload(xapi, subject, '/export_raw_vdi', query, options)
  let parsed: ParsedVhdStream
  try {
    const body = download.chunks((head) => {
      refuseHttpPage(subject, head)
    })
    parsed = await parseVhdStream(body, 'export body', { maxVirtualSizeBytes: vdi.virtual_size })
  } catch (error) {
    throw await explainFailure(download, error, signal, sizeIssue(error, vdi))
  }
  await checkParsed(download, parsed, vdi, baseUuid)
  let used = false
  let complete = false
  async function* readBlocks(): AsyncGenerator<DiskBlock> {
    try {
      yield* parsed.blocks()
      complete = true
    } catch (error) {
      throw await explainFailure(download, error, signal)
    } finally {
      // An early stop (break, a fan-out left by every consumer): end the task rather than leave it pending.
      if (!complete) await download.close()
    }
  }
  return {
    vdiRef,
    vdiUuid: vdi.uuid,
    diskType: baseUuid === undefined ? 'dynamic' : 'differencing',
    taskRef: download.taskRef,
    virtualSize: parsed.virtualSize,
    blockSize: parsed.blockSize,
    blockIndexes: parsed.blockIndexes,
    get bytesRead() {
      return download.bytesRead
    },
    blocks() {
      if (used) throw new RangeError(`${subject.request} of VDI ${vdi.uuid}: blocks() can be iterated once`)
      used = true
      return readBlocks()
    },
    result: () => taskOutcomeOf(download, signal),
    close: (reason) => download.close(reason),
  }
}

/** The parser refuses a footer larger than virtual_size as VHD_INVALID: report it as the size mismatch it is. */
function sizeIssue(
  error: unknown,
  vdi: VdiRecord,
): { code: 'EXPORT_SIZE_MISMATCH'; message: string } | undefined {
  if (!(error instanceof VhdError) || error.issue.field !== 'footer.currentSize') return undefined
  return {
    code: 'EXPORT_SIZE_MISMATCH',
    message: `footer.currentSize at byte ${error.issue.offset}: expected the VDI's virtual_size ${vdi.virtual_size}, got ${error.issue.got}`,
  }
}
