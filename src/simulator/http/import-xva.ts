import type { IncomingMessage } from 'node:http'
import { isAllZero } from '../../shared/bytes.ts'
import type { OvaStruct, XvaReader } from '../../formats/xva/index.ts'
import { openXva, XvaError } from '../../formats/xva/index.ts'
import type { SimulatorContext } from '../context.ts'
import type { HttpHandler } from '../server.ts'
import { NULL_REF, t } from '../types.ts'
import { encodeXmlValue } from '../wire/value-codec.ts'
import { recordTypes } from '../schema/index.ts'
import { XapiFault } from '../xapi-fault.ts'
import type { DataTask } from './data-task.ts'
import { HttpRefusal, runDataTask, sendDataHeader } from './data-task.ts'
import type { ImportedObjects } from './ova-import.ts'
import { SIMULATED_XAPI_VERSION } from './ova-export.ts'
import { createImportedObjects, removeImportedObjects } from './ova-import.ts'
import { receiveBody } from './streams.ts'
import { resolveRefOrUuid } from './vdi-access.ts'

/** XAPI's error for an XVA that cannot be read (xapi.md §3.2 failure list). */
function importFault(error: XvaError): XapiFault {
  if (error.code === 'XVA_TRUNCATED') return new XapiFault('IMPORT_ERROR_PREMATURE_EOF', [])
  return new XapiFault('IMPORT_ERROR', [error.message])
}

/** Target SR: `sr_id`, `sr_uuid`, else the pool's default SR (xapi.md §3.2); an ISO SR is refused. */
function targetSr(ctx: SimulatorContext, url: URL): string {
  const srId = url.searchParams.get('sr_id')
  const srUuid = url.searchParams.get('sr_uuid')
  let sr: string
  if (srId !== null) sr = resolveRefOrUuid(ctx, 'SR', 'sr_id', srId)
  else if (srUuid !== null) sr = resolveRefOrUuid(ctx, 'SR', 'sr_uuid', srUuid)
  else {
    sr = (ctx.db.all('pool')[0]?.[1].default_SR as string | undefined) ?? NULL_REF
    if (ctx.db.find('SR', sr) === undefined) throw new XapiFault('DEFAULT_SR_NOT_FOUND', [sr])
  }
  if (ctx.db.get('SR', sr).content_type === 'iso')
    throw new HttpRefusal(400, 'SR_OPERATION_NOT_SUPPORTED', [sr])
  return sr
}

async function writeDisks(task: DataTask, reader: XvaReader, imported: ImportedObjects): Promise<void> {
  const { ctx } = task
  const total = Math.max(
    1,
    [...imported.vdis.values()].reduce(
      (sum, vdi) => sum + (ctx.db.get('VDI', vdi).virtual_size as number),
      0,
    ),
  )
  let done = 0
  for await (const disk of reader.disks()) {
    const vdi = imported.vdis.get(disk.id)
    if (vdi === undefined) throw new XapiFault('IMPORT_ERROR_FAILED_TO_FIND_OBJECT', [disk.id])
    for await (const block of disk.blocks()) {
      const offset = block.index * disk.blockSize
      // A fresh VDI reads zeros: skipping zero chunks keeps it sparse (xapi.md §4 "Sparseness").
      if (!isAllZero(block.data)) ctx.storage.writeWithinSr(vdi, offset, block.data)
      done += block.data.byteLength
      task.progress(done / total)
    }
    ctx.storage.refreshUtilisation(vdi)
  }
}

function finish(ctx: SimulatorContext, task: string, imported: ImportedObjects): string {
  for (const vm of imported.vms) {
    const { [task]: _import, ...rest } = ctx.db.get('VM', vm).current_operations as Record<string, string>
    ctx.db.update('VM', vm, { current_operations: rest })
  }
  // The result is the set of imported VMs (xapi.md §3.2 step 5).
  return encodeXmlValue(imported.vms, t.set(t.ref('VM')), recordTypes)
}

/** IMPORT_INCOMPATIBLE_VERSION when the XVA comes from a newer XAPI than ours (xapi.md §3.2 step 2). */
function assertVersion(version: OvaStruct): void {
  const major = Number(version.xapi_major ?? 0)
  const minor = Number(version.xapi_minor ?? 0)
  const ours = SIMULATED_XAPI_VERSION
  if (major > ours.major || (major === ours.major && minor > ours.minor))
    throw new XapiFault('IMPORT_INCOMPATIBLE_VERSION', [])
}

async function importXva(task: DataTask, request: IncomingMessage, sr: string): Promise<string> {
  const { ctx, url } = task
  const force = url.searchParams.get('force') === 'true'
  let imported: ImportedObjects | undefined
  try {
    const reader = await openXva(receiveBody(request, task), { force, what: 'import body' })
    assertVersion(reader.ova.version)
    imported = createImportedObjects(ctx.db, reader.ova, {
      sr,
      task: task.task,
      restore: url.searchParams.get('restore') === 'true',
      nowMs: ctx.clock.now(),
    })
    // Its VDIs are made by VDI.create on the target SR: a thick one refuses sizes it cannot hold.
    ctx.storage.assertRoomForNewVdis(
      sr,
      [...imported.vdis.values()].map((vdi) => ctx.db.get('VDI', vdi).virtual_size as number),
    )
    ctx.db.update('task', task.task, {
      other_config: {
        ...(ctx.db.get('task', task.task).other_config as Record<string, string>),
        object_creation: 'complete',
      },
    })
    await writeDisks(task, reader, imported)
    return finish(ctx, task.task, imported)
  } catch (error) {
    // `force` also means "no cleanup on failure" (xapi.md §3.2).
    if (imported !== undefined && !force) removeImportedObjects(ctx.db, imported)
    throw error instanceof XvaError ? importFault(error) : error
  }
}

/**
 * `PUT /import` (xapi.md §3.2, §4): an XVA (plain, gzip or zstd, detected) into `sr_id`/`sr_uuid`/the
 * default SR, answering 200 before reading; the import ends with the tar's end-of-archive, not the
 * Content-Length (XO's 1 PiB), so an empty-body probe only fails its task. A bad chunk checksum
 * fails unless `force`; a failure removes what was created (unless `force`).
 */
export function importXvaHandler(): HttpHandler {
  return runDataTask('/import', 'VM.import', async (task, request, response) => {
    const { ctx, url } = task
    if (request.headers['transfer-encoding'] !== undefined)
      throw new HttpRefusal(403, 'IMPORT_ERROR_CANNOT_HANDLE_CHUNKED', [])
    const sr = targetSr(ctx, url)
    sendDataHeader(response, task.task, { 'content-type': 'application/octet-stream' })
    return importXva(task, request, sr)
  })
}
