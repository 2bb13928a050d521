import { planVhdStream } from '../../formats/vhd/index.ts'
import type { BlockSource } from '../../formats/block-source.ts'
import type { HttpHandler } from '../server.ts'
import { XapiFault } from '../xapi-fault.ts'
import type { DataTask } from './data-task.ts'
import { HttpRefusal, runDataTask, sendDataHeader } from './data-task.ts'
import { sendBody } from './streams.ts'
import { assertHasData, attachToDom0, resolveRefOrUuid } from './vdi-access.ts'

// XAPI refuses format=vhd above 2040 GiB (xapi.md §3.3).
const MAX_VHD_BYTES = 2040 * 1024 ** 3

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  raw: 'application/octet-stream',
  vhd: 'application/vhd',
}

async function* rawBytes(source: BlockSource, task: DataTask): AsyncGenerator<Uint8Array> {
  let sent = 0
  for await (const block of source.blocks()) {
    yield block.data
    sent += block.data.byteLength
    task.progress(sent / Math.max(1, source.virtualSize))
  }
}

async function* withProgress(
  chunks: AsyncIterable<Uint8Array>,
  totalBytes: number,
  task: DataTask,
): AsyncGenerator<Uint8Array> {
  let sent = 0
  for await (const chunk of chunks) {
    yield chunk
    sent += chunk.byteLength
    task.progress(sent / totalBytes)
  }
}

function vhdChunks(task: DataTask, vdi: string, base: string | undefined): AsyncIterable<Uint8Array> {
  const { ctx } = task
  const record = ctx.db.get('VDI', vdi)
  if ((record.virtual_size as number) > MAX_VHD_BYTES)
    throw new XapiFault('VDI_TOO_LARGE', [vdi, String(MAX_VHD_BYTES)])
  const source = ctx.storage.source(vdi, base === undefined ? {} : { base })
  const baseUuid = base === undefined ? undefined : (ctx.db.get('VDI', base).uuid as string)
  const stream = planVhdStream(source, {
    uniqueId: record.uuid as string,
    timestampMs: ctx.clock.now(),
    ...(baseUuid === undefined ? {} : { parent: { uniqueId: baseUuid, relativePath: `${baseUuid}.vhd` } }),
  })
  return withProgress(stream.chunks(), stream.sizeBytes, task)
}

/**
 * `GET /export_raw_vdi` (xapi.md §3.3, §5.2): `vdi` (ref or uuid), `format` raw (exactly
 * `virtual_size` bytes) or vhd (dynamic; differencing of exactly the 2 MiB blocks that differ from
 * `base`), under a task, with the VDI (and base) attached read-only to dom0 while it streams. tar and qcow2
 * are not simulated (404 + INTERNAL_ERROR like an unknown format); `base` with raw is refused.
 */
export function exportRawVdiHandler(): HttpHandler {
  return runDataTask('/export_raw_vdi', 'VDI.export_raw_vdi', async (task, _request, response) => {
    const { ctx, url } = task
    const format = url.searchParams.get('format') ?? 'raw'
    if (!(format in CONTENT_TYPES)) throw new HttpRefusal(404, 'INTERNAL_ERROR', [`Unknown format ${format}`])
    const vdi = resolveRefOrUuid(ctx, 'VDI', 'vdi', url.searchParams.get('vdi'))
    const baseParam = url.searchParams.get('base')
    const base = baseParam === null ? undefined : resolveRefOrUuid(ctx, 'VDI', 'base', baseParam)
    assertHasData(ctx, vdi)
    if (base !== undefined) assertHasData(ctx, base)
    if (base !== undefined && format === 'raw')
      throw new XapiFault('INTERNAL_ERROR', ['base is only simulated with format=vhd'])
    const chunks =
      format === 'vhd'
        ? vhdChunks(task, vdi, base)
        : rawBytes(ctx.storage.source(vdi, { everyBlock: true }), task)
    const detaches = [vdi, ...(base === undefined ? [] : [base])].map((disk) => attachToDom0(ctx, disk, 'RO'))
    try {
      sendDataHeader(response, task.task, {
        'content-type': CONTENT_TYPES[format] ?? '',
        'content-disposition': `attachment; filename="${ctx.db.get('VDI', vdi).uuid as string}.${format}"`,
      })
      await sendBody(response, chunks, task)
    } finally {
      for (const detach of detaches) detach()
    }
    return ''
  })
}
