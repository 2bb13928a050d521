// /import of an XVA written the way XO writes one (minimal ova.xml, `Ref:000` ids, lowercase
// `halted`, xapi.md §4 and §8.4), and the data handlers' authentication (§3, §8.5 item 2).
import assert from 'node:assert/strict'
import { request as httpRequest } from 'node:http'
import { Readable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import type { BlockSource } from '../../src/formats/block-source.ts'
import type { OvaDocument } from '../../src/formats/xva/index.ts'
import { writeXva } from '../../src/formats/xva/index.ts'
import { startSimulator } from '../../src/simulator/index.ts'
import type { RunningSimulator } from '../../src/simulator/index.ts'
import { DATA_POOL, MiB, collectBytes, patternBytes } from '../../src/simulator/testing/data-plane.ts'
import { HttpXapiClient } from '../../src/xapi/http-xapi-client.ts'

const DISK_BYTES = 3 * MiB

function bufferSource(data: Buffer): BlockSource {
  const indexes = Array.from({ length: Math.ceil(data.length / MiB) }, (_, i) => i)
  return {
    virtualSize: data.length,
    blockSize: MiB,
    blockIndexes: indexes,
    async *blocks() {
      for (const index of indexes)
        yield await Promise.resolve({ index, data: data.subarray(index * MiB, (index + 1) * MiB) })
    },
  }
}

/** XO's minimal graph (`@xen-orchestra/xva` templates): VM, VBD, VDI, SR, network, VIF. */
function xoStyleOva(): OvaDocument {
  return {
    version: { hostname: 'xo', date: '2026-11-27', product_version: '8.2.1', product_brand: 'XCP-ng', build_number: 'xo', xapi_major: 1, xapi_minor: 20, export_vsn: 2 },
    objects: [
      { class: 'VM', id: 'Ref:000', snapshot: { name_label: 'from XO', power_state: 'halted', memory_static_max: String(2 * 1024 * MiB), VCPUs_max: '2', VBDs: ['Ref:001'], VIFs: ['Ref:005'], other_config: {} } },
      { class: 'VBD', id: 'Ref:001', snapshot: { VM: 'Ref:000', VDI: 'Ref:002', userdevice: '0', bootable: true, mode: 'RW', type: 'Disk' } },
      { class: 'VDI', id: 'Ref:002', snapshot: { name_label: 'xo disk', virtual_size: String(DISK_BYTES), SR: 'Ref:003', type: 'user', VBDs: ['Ref:001'] } },
      { class: 'SR', id: 'Ref:003', snapshot: { name_label: 'somewhere' } },
      { class: 'network', id: 'Ref:004', snapshot: { name_label: 'not here', bridge: 'xenbr0' } },
      { class: 'VIF', id: 'Ref:005', snapshot: { VM: 'Ref:000', network: 'Ref:004', device: '0', MAC: '12:34:56:78:9a:bc', MTU: '1500' } },
    ],
  } // prettier-ignore
}

describe('simulator data plane: XO-style XVA import and authentication', () => {
  let sim: RunningSimulator
  let client: HttpXapiClient

  before(async () => {
    sim = await startSimulator({ pool: DATA_POOL })
    client = new HttpXapiClient({ url: sim.url, user: sim.username, password: sim.password })
    await client.connect()
  })
  after(async () => {
    await client.disconnect()
    await sim.close()
  })

  it('imports a minimal XO ova.xml with SHA-1 checksums: defaults filled, network matched by bridge, disk bytes, new MAC', async () => {
    const disk = patternBytes(3, DISK_BYTES)
    const xva = await collectBytes(
      writeXva(xoStyleOva(), [{ id: 'Ref:002', source: bufferSource(disk) }], { checksum: 'sha1' }),
    )
    assert.ok(xva.includes('Ref:002/00000000.checksum'), "xva.includes('Ref:002/00000000.checksum')")
    const sr = sim.db.select('SR', (r) => r.name_label === 'Local')[0] ?? ''
    const [vm] = (await client.putResource('/import', { sr_id: sr }, Readable.from([xva]), {
      lengthBytes: xva.length,
    })) as string[]
    const record = sim.db.get('VM', vm ?? '')
    assert.equal(record.name_label, 'from XO')
    assert.equal(record.power_state, 'Halted')
    assert.equal(record.VCPUs_max, 2)
    assert.equal(record.memory_static_max, 2 * 1024 * MiB)
    const [vbd] = record.VBDs as string[]
    const vdi = sim.db.get('VBD', vbd ?? '').VDI as string
    assert.equal(sim.db.get('VDI', vdi).SR, sr)
    assert.equal(
      (sim.db.get('VDI', vdi).sm_config as Record<string, string>).import_task?.startsWith('OpaqueRef:'),
      true,
    )
    assert.deepEqual(sim.storage.readAll(vdi), disk)
    const [vif] = record.VIFs as string[]
    const vifRecord = sim.db.get('VIF', vif ?? '')
    assert.equal(sim.db.get('network', vifRecord.network as string).bridge, 'xenbr0')
    assert.notEqual(vifRecord.MAC, '12:34:56:78:9a:bc')
    assert.equal(sim.db.select('network', (r) => r.name_label === 'not here').length, 0)
  })

  it('§3.2 an XVA from a newer XAPI fails IMPORT_INCOMPATIBLE_VERSION and creates nothing', async () => {
    const ova = xoStyleOva()
    const newer = { ...ova, version: { ...ova.version, xapi_major: 99 } }
    const xva = await collectBytes(
      writeXva(newer, [{ id: 'Ref:002', source: bufferSource(Buffer.alloc(DISK_BYTES)) }]),
    )
    const vms = sim.db.all('VM').length
    await assert.rejects(
      client.putResource('/import', {}, Readable.from([xva]), { lengthBytes: xva.length }),
      (error: unknown) =>
        error instanceof Error && 'code' in error && error.code === 'IMPORT_INCOMPATIBLE_VERSION',
    )
    assert.equal(sim.db.all('VM').length, vms)
  })

  it('§3.3 an unknown export format answers 404 and fails the task with INTERNAL_ERROR', async () => {
    const task = await client.call('task.create', ['export', ''])
    const vm = sim.pool.vms.get('one-disk') ?? ''
    const vdi = sim.db.get('VBD', (sim.db.get('VM', vm).VBDs as string[])[0] ?? '').VDI as string
    await assert.rejects(client.getResource('/export_raw_vdi', { vdi, format: 'xyz' }, { taskRef: task }))
    const record = await client.getRecord('task', task)
    assert.deepEqual(record.error_info, ['INTERNAL_ERROR', 'Unknown format xyz'])
  })

  it('§8.5.6 VM.destroy leaves the VDIs and their contents', async () => {
    const vm = sim.pool.vms.get('one-disk') ?? ''
    const vdi = sim.db.get('VBD', (sim.db.get('VM', vm).VBDs as string[])[0] ?? '').VDI as string
    sim.storage.writeBlocks(vdi, [{ offsetBytes: MiB, data: patternBytes(4, 100) }])
    const before = sim.storage.readAll(vdi)
    await client.call('VM.destroy', [vm])
    assert.equal(sim.db.find('VM', vm), undefined)
    assert.deepEqual(sim.db.get('VDI', vdi).VBDs, [])
    assert.deepEqual(sim.storage.readAll(vdi), before)
  })

  it('§8.5.2 a data handler with a dead session answers 401 and fails the given task', async () => {
    const task = await client.call('task.create', ['export', ''])
    const vm = sim.pool.vms.get('one-disk') ?? ''
    const url = new URL(`/export?ref=${vm}&session_id=OpaqueRef:dead&task_id=${task}`, sim.url)
    const answer = await new Promise<{ status: number; auth: string | undefined }>((resolve, reject) => {
      httpRequest(url, (res) => {
        res.resume()
        resolve({ status: res.statusCode ?? 0, auth: res.headers['www-authenticate'] })
      })
        .on('error', reject)
        .end()
    })
    assert.deepEqual(answer, { status: 401, auth: 'Basic realm="xapi"' })
    const record = await client.getRecord('task', task)
    assert.equal(record.status, 'failure')
    assert.equal(record.error_info[0], 'SESSION_AUTHENTICATION_FAILED')
  })
})
