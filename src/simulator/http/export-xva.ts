import type { ServerResponse } from 'node:http'
import type { BlockSource } from '../../formats/block-source.ts'
import { writeXva } from '../../formats/xva/index.ts'
import { compressXva } from '../../formats/xva/compression.ts'
import { acquireVmOperation } from '../methods/vm-checks.ts'
import type { HttpHandler } from '../server.ts'
import type { DataTask } from './data-task.ts'
import { runDataTask, sendDataHeader } from './data-task.ts'
import { buildVmExport } from './ova-export.ts'
import { sendBody } from './streams.ts'
import { attachToDom0, resolveRefOrUuid } from './vdi-access.ts'

/** `use_compression`: true|gzip → gzip, zstd → zstd, anything else → none (xapi.md §3.1). */
function compressionOf(value: string | null): 'gzip' | 'zstd' | undefined {
  if (value === 'true' || value === 'gzip') return 'gzip'
  return value === 'zstd' ? 'zstd' : undefined
}

function counted(source: BlockSource, onBlock: () => void): BlockSource {
  return {
    virtualSize: source.virtualSize,
    blockSize: source.blockSize,
    blockIndexes: source.blockIndexes,
    async *blocks() {
      for await (const block of source.blocks()) {
        yield block
        onBlock()
      }
    },
  }
}

async function streamVm(task: DataTask, vm: string, response: ServerResponse): Promise<void> {
  const { ctx, url } = task
  const host = ctx.db.all('host')[0]?.[0] ?? ''
  const graph = buildVmExport(ctx.db, vm, host, ctx.clock.now())
  const detaches = [...graph.disks.values()].map((vdi) => attachToDom0(ctx, vdi, 'RO'))
  try {
    const sources = [...graph.disks].map(([id, vdi]) => ({ id, source: ctx.storage.source(vdi) }))
    const total = Math.max(
      1,
      sources.reduce((sum, { source }) => sum + source.blockIndexes.length, 0),
    )
    let done = 0
    const disks = sources.map(({ id, source }) => ({
      id,
      source: counted(source, () => {
        done += 1
        task.progress(done / total)
      }),
    }))
    const tar = writeXva(graph.ova, disks, { mtimeSeconds: Math.floor(ctx.clock.now() / 1000) })
    const compression = compressionOf(url.searchParams.get('use_compression'))
    sendDataHeader(response, task.task, {
      'content-type': 'application/octet-stream',
      'Content-Disposition': 'attachment; filename="export.xva"',
    })
    await sendBody(response, compression === undefined ? tar : compressXva(tar, compression), task)
  } finally {
    for (const detach of detaches) detach()
  }
}

/**
 * `GET /export` (xapi.md §3.1, §4): the VM (`ref` or `uuid`) as an XVA, gzip or zstd compressed on
 * request, under a task. The VM is locked with operation `export` before any byte, so a running VM
 * answers HTTP 500 with VM_BAD_POWER_STATE and a failed task. `preserve_power_state` is not simulated.
 */
export function exportXvaHandler(): HttpHandler {
  return runDataTask('/export', 'VM.export', async (task, _request, response) => {
    const { ctx, url } = task
    const ref = url.searchParams.get('ref')
    const vm = resolveRefOrUuid(ctx, 'VM', 'ref', ref ?? url.searchParams.get('uuid'))
    const release = acquireVmOperation(ctx.db, vm, 'export', task.task)
    try {
      await streamVm(task, vm, response)
    } finally {
      release()
    }
    return ''
  })
}
