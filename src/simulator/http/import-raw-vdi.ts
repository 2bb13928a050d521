import type { IncomingMessage } from 'node:http'
import { parseVhdStream, VhdError } from '../../formats/vhd/index.ts'
import { isAllZero } from '../../shared/bytes.ts'
import type { SimulatorContext } from '../context.ts'
import { destroyVdi } from '../methods/vdi-ops.ts'
import { createVdi } from '../objects.ts'
import type { HttpHandler } from '../server.ts'
import { VDI_BLOCK_BYTES } from '../storage/block-store.ts'
import { XapiFault } from '../xapi-fault.ts'
import type { DataTask } from './data-task.ts'
import { HttpRefusal, runDataTask, sendDataHeader } from './data-task.ts'
import { receiveBody } from './streams.ts'
import { assertHasData, attachToDom0, resolveRefOrUuid } from './vdi-access.ts'

function ioError(): XapiFault {
  // What vhd-tool's failures surface as (xapi.md §3.4).
  return new XapiFault('VDI_IO_ERROR', ['Device I/O errors'])
}

/** Writes one block-aligned piece, skipping zeros over an unwritten block (sparse, same content). */
function writePiece(ctx: SimulatorContext, vdi: string, offsetBytes: number, data: Uint8Array): void {
  if (isAllZero(data) && !ctx.storage.isAllocated(vdi, Math.floor(offsetBytes / VDI_BLOCK_BYTES))) return
  ctx.storage.writeWithinSr(vdi, offsetBytes, data)
}

async function importRaw(
  task: DataTask,
  vdi: string,
  body: AsyncIterable<Uint8Array>,
  lengthBytes: number,
): Promise<void> {
  const { ctx } = task
  const size = ctx.db.get('VDI', vdi).virtual_size as number
  const expected = Math.min(lengthBytes, size)
  const block = Buffer.alloc(VDI_BLOCK_BYTES)
  let filled = 0
  let offset = 0
  const flush = (): void => {
    writePiece(ctx, vdi, offset - filled, block.subarray(0, filled))
    filled = 0
  }
  for await (const chunk of body) {
    for (let used = 0; used < chunk.byteLength && offset < expected;) {
      const take = Math.min(chunk.byteLength - used, VDI_BLOCK_BYTES - filled, expected - offset)
      block.set(chunk.subarray(used, used + take), filled)
      filled += take
      used += take
      offset += take
      if (filled === VDI_BLOCK_BYTES) flush()
    }
    task.progress(offset / Math.max(1, expected))
    if (offset >= expected) break
  }
  if (filled > 0) flush()
  if (offset < expected) throw ioError()
}

async function importVhd(task: DataTask, vdi: string, body: AsyncIterable<Uint8Array>): Promise<void> {
  const { ctx } = task
  const size = ctx.db.get('VDI', vdi).virtual_size as number
  try {
    // The VDI's size bounds the stream's before its BAT is read (a BAT can declare 2^22 entries).
    const vhd = await parseVhdStream(body, 'import_raw_vdi body', { maxVirtualSizeBytes: size })
    let done = 0
    for await (const block of vhd.blocks()) {
      writePiece(ctx, vdi, block.index * vhd.blockSize, block.data)
      done += 1
      task.progress(done / Math.max(1, vhd.blockIndexes.length))
    }
  } catch (error) {
    if (error instanceof VhdError) throw ioError()
    throw error
  }
}

/** The VDI to write, and whether this request created it (then a failed import destroys it). */
function targetVdi(
  task: DataTask,
  format: string,
  lengthBytes: number | undefined,
): { readonly vdi: string; readonly created: boolean } {
  const { ctx, url } = task
  const vdiParam = url.searchParams.get('vdi')
  const srParam = url.searchParams.get('sr_id')
  if (vdiParam !== null || srParam === null || format !== 'raw' || lengthBytes === undefined)
    return { vdi: resolveRefOrUuid(ctx, 'VDI', 'vdi', vdiParam), created: false }
  // sr_id + raw + Content-Length creates the VDI (xapi.md §3.4).
  const sr = resolveRefOrUuid(ctx, 'SR', 'sr_id', srParam)
  // XAPI makes it with VDI.create: a thick SR refuses a size it cannot hold.
  ctx.storage.assertRoomForNewVdis(sr, [lengthBytes])
  const vdi = createVdi(ctx.db, {
    name_label: 'Imported VDI',
    SR: sr,
    virtual_size: lengthBytes,
    type: 'user',
  })
  return { vdi, created: true }
}

function contentLength(request: IncomingMessage): number | undefined {
  const header = request.headers['content-length']
  return header === undefined ? undefined : Number(header)
}

/**
 * `PUT /import_raw_vdi` (xapi.md §3.4): `vdi` (ref or uuid), `format` raw (bytes written in
 * order, Content-Length of them) or vhd (parsed forward-only, blocks written where the BAT puts
 * them, ending at the trailing footer even under XO's 1 PiB Content-Length); Transfer-Encoding →
 * 404 + INTERNAL_ERROR. The task's result is the VDI ref.
 */
export function importRawVdiHandler(): HttpHandler {
  return runDataTask('/import_raw_vdi', 'VDI.import_raw_vdi', async (task, request, response) => {
    const { ctx, url } = task
    if (request.headers['transfer-encoding'] !== undefined)
      throw new HttpRefusal(404, 'INTERNAL_ERROR', ['Cannot handle encoding: chunked'])
    const format = url.searchParams.get('format') ?? 'raw'
    if (format !== 'raw' && format !== 'vhd')
      throw new HttpRefusal(404, 'INTERNAL_ERROR', [`Unknown format ${format}`])
    if (format !== 'raw' && url.searchParams.get('vdi') === null)
      throw new HttpRefusal(400, 'INTERNAL_ERROR', ['vdi is required with format=vhd'])
    const lengthBytes = contentLength(request)
    const { vdi, created } = targetVdi(task, format, lengthBytes)
    let imported = false
    try {
      assertHasData(ctx, vdi)
      const detach = attachToDom0(ctx, vdi, 'RW')
      try {
        sendDataHeader(response, task.task, { 'content-type': 'application/octet-stream' })
        const body = receiveBody(request, task)
        if (format === 'vhd') await importVhd(task, vdi, body)
        else await importRaw(task, vdi, body, lengthBytes ?? 0)
        imported = true
      } finally {
        detach()
        ctx.storage.refreshUtilisation(vdi)
      }
    } finally {
      // A VDI made for this import holds nothing usable when it failed: leave none behind.
      if (created && !imported && ctx.db.find('VDI', vdi) !== undefined) destroyVdi(ctx.db, vdi)
    }
    return `<value>${vdi}</value>`
  })
}
