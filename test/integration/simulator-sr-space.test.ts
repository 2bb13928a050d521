// SR space in the simulator (xapi.md §2.5–2.7, §3.2, §3.4): SR.physical_utilisation follows the
// distinct blocks of its VDIs and virtual_allocation their sizes; an SR with a physical_size
// refuses imports that would overfill it with SR_BACKEND_FAILURE_44 (the import's own objects
// cleaned up), a thick (LVM) SR refuses VDIs bigger than its free space at VDI.create, a thin one
// accepts them; guest writes are never refused. Through the project's XAPI client.
import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import type { BlockSource } from '../../src/formats/block-source.ts'
import type { OvaDocument } from '../../src/formats/xva/index.ts'
import { writeXva } from '../../src/formats/xva/index.ts'
import { startSimulator } from '../../src/simulator/index.ts'
import type { PoolDescription, RunningSimulator } from '../../src/simulator/index.ts'
import { MiB, collectBytes, patternBytes } from '../../src/simulator/testing/data-plane.ts'
import { HttpXapiClient } from '../../src/xapi/http-xapi-client.ts'
import { XapiError } from '../../src/xapi/xapi-error.ts'

const POOL: PoolDescription = {
  name: 'SR space pool',
  hosts: [{ name: 'host-1', address: '127.0.0.1' }],
  srs: [
    { name: 'Small', type: 'ext', sizeBytes: 10 * MiB },
    { name: 'Thick', type: 'lvm', sizeBytes: 8 * MiB },
    { name: 'Unlimited', type: 'nfs' },
  ],
  networks: [{ name: 'eth0 network', bridge: 'xenbr0' }],
  vms: [
    {
      name: 'six',
      powerState: 'Halted',
      disks: [
        { name: 'six disk', sizeBytes: 6 * MiB, sr: 'Small', content: { seed: 1, allocatedFraction: 1 } },
      ],
    },
    {
      name: 'spare',
      powerState: 'Halted',
      disks: [{ name: 'spare disk', sizeBytes: 4 * MiB, sr: 'Unlimited' }],
    },
  ],
  defaultSr: 'Unlimited',
}

const NO_SPACE = ['SR_BACKEND_FAILURE_44', '', 'There is insufficient space', '']

function failsWith(expected: readonly string[]) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof XapiError, `expected XapiError ${expected[0]}, got ${String(error)}`)
    assert.deepEqual([error.code, ...error.params], expected)
    return true
  }
}

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

/** A one-VM, one-disk XVA whose disk holds `disk`. */
async function xvaOf(disk: Buffer): Promise<Buffer> {
  const ova: OvaDocument = {
    version: { hostname: 'x', date: '2026-01-01', product_version: '8.2.1', product_brand: 'XCP-ng', build_number: 'x', xapi_major: 1, xapi_minor: 20, export_vsn: 2 },
    objects: [
      { class: 'VM', id: 'Ref:0', snapshot: { name_label: 'too big', power_state: 'halted', VBDs: ['Ref:1'], VIFs: [], other_config: {} } },
      { class: 'VBD', id: 'Ref:1', snapshot: { VM: 'Ref:0', VDI: 'Ref:2', userdevice: '0', bootable: true, mode: 'RW', type: 'Disk' } },
      { class: 'VDI', id: 'Ref:2', snapshot: { name_label: 'too big disk', virtual_size: String(disk.length), SR: 'Ref:3', type: 'user', VBDs: ['Ref:1'] } },
      { class: 'SR', id: 'Ref:3', snapshot: { name_label: 'there' } },
    ],
  } // prettier-ignore
  return collectBytes(writeXva(ova, [{ id: 'Ref:2', source: bufferSource(disk) }]))
}

describe('simulator SR space', () => {
  let sim: RunningSimulator
  let client: HttpXapiClient
  const sr = (name: string): string => sim.pool.srs.get(name) ?? assert.fail(`no SR ${name}`)
  const diskOf = (vm: string): string => {
    const ref = sim.pool.vms.get(vm) ?? assert.fail(`no VM ${vm}`)
    return sim.db.get('VBD', (sim.db.get('VM', ref).VBDs as string[])[0] ?? '').VDI as string
  }
  const space = async (name: string): Promise<[number, number, number]> => {
    const record = await client.getRecord('SR', sr(name))
    return [record.physical_utilisation, record.virtual_allocation, record.physical_size]
  }
  const count = (cls: string): number => sim.db.all(cls).length

  before(async () => {
    sim = await startSimulator({ pool: POOL })
    client = new HttpXapiClient({ url: sim.url, user: sim.username, password: sim.password })
    await client.connect()
  })
  after(async () => {
    await client.disconnect()
    await sim.close()
  })

  it('physical_utilisation counts the distinct blocks of the VDIs on the SR, virtual_allocation their sizes', async () => {
    assert.deepEqual(await space('Small'), [6 * MiB, 6 * MiB, 10 * MiB])
    const snapshot = await client.call('VDI.snapshot', [diskOf('six'), {}])
    assert.deepEqual(await space('Small'), [6 * MiB, 12 * MiB, 10 * MiB], 'a snapshot shares its blocks')
    sim.storage.writeBlocks(diskOf('six'), [{ offsetBytes: 0, data: patternBytes(2, MiB) }])
    assert.deepEqual(
      await space('Small'),
      [8 * MiB, 12 * MiB, 10 * MiB],
      'the rewritten block is new, the old one the snapshot keeps',
    )
    await client.call('VDI.destroy', [snapshot])
    assert.deepEqual(
      await space('Small'),
      [6 * MiB, 6 * MiB, 10 * MiB],
      'the old block went with the snapshot',
    )
    const sized = await client.call('VDI.create', [
      {
        name_label: 'empty',
        SR: sr('Small'),
        virtual_size: 2 * MiB,
        type: 'user',
        sharable: false,
        read_only: false,
        other_config: {},
      },
    ])
    assert.deepEqual(await space('Small'), [6 * MiB, 8 * MiB, 10 * MiB], 'an empty VDI holds no block')
    await client.call('VDI.resize', [sized, 4 * MiB])
    assert.deepEqual(
      await space('Small'),
      [6 * MiB, 10 * MiB, 10 * MiB],
      'a resize shows in virtual_allocation',
    )
    await client.call('VDI.destroy', [sized])
  })

  it('/import_raw_vdi?sr_id= that would overfill the SR fails SR_BACKEND_FAILURE_44 and leaves no VDI', async () => {
    const vdis = count('VDI')
    const data = patternBytes(3, 6 * MiB)
    await assert.rejects(
      client.putResource('/import_raw_vdi', { sr_id: sr('Small'), format: 'raw' }, Readable.from([data]), {
        lengthBytes: data.length,
      }),
      failsWith(NO_SPACE),
    )
    assert.equal(count('VDI'), vdis, 'the VDI made by sr_id= is gone')
    assert.deepEqual(await space('Small'), [6 * MiB, 6 * MiB, 10 * MiB], 'its blocks too')
    // Zeros allocate nothing: the same size of zeros fits.
    const zeros = Buffer.alloc(6 * MiB)
    const made = await client.putResource(
      '/import_raw_vdi',
      { sr_id: sr('Small'), format: 'raw' },
      Readable.from([zeros]),
      {
        lengthBytes: zeros.length,
      },
    )
    assert.equal((await space('Small'))[0], 6 * MiB)
    await client.call('VDI.destroy', [made])
  })

  it('/import_raw_vdi?vdi= format=vhd onto a VDI of a full SR fails too; the VDI stays (it was not made by the import)', async () => {
    const vhd = await collectBytes(
      (await client.getResource('/export_raw_vdi', { vdi: diskOf('six'), format: 'vhd' })).body,
    )
    const target = await client.call('VDI.create', [
      {
        name_label: 'target',
        SR: sr('Small'),
        virtual_size: 6 * MiB,
        type: 'user',
        sharable: false,
        read_only: false,
        other_config: {},
      },
    ])
    await assert.rejects(
      client.putResource('/import_raw_vdi', { vdi: target, format: 'vhd' }, Readable.from([vhd]), {
        lengthBytes: vhd.length,
      }),
      failsWith(NO_SPACE),
    )
    assert.equal((await client.getRecord('VDI', target)).SR, sr('Small'))
    assert.ok((await space('Small'))[0] <= 10 * MiB, 'never over physical_size')
    await client.call('VDI.destroy', [target])
  })

  it('/import of an XVA that does not fit fails SR_BACKEND_FAILURE_44 and leaves no VM, VBD nor VDI', async () => {
    const before = [count('VM'), count('VBD'), count('VDI')]
    const xva = await xvaOf(patternBytes(4, 6 * MiB))
    await assert.rejects(
      client.putResource('/import', { sr_id: sr('Small') }, Readable.from([xva]), {
        lengthBytes: xva.length,
      }),
      failsWith(NO_SPACE),
    )
    assert.deepEqual([count('VM'), count('VBD'), count('VDI')], before)
    assert.deepEqual(await space('Small'), [6 * MiB, 6 * MiB, 10 * MiB])
  })

  it('physical_size is read live: a bigger SR takes the same import, 0 means unlimited', async () => {
    const xva = await xvaOf(patternBytes(5, 6 * MiB))
    sim.db.update('SR', sr('Small'), { physical_size: 12 * MiB })
    const [vm] = (await client.putResource('/import', { sr_id: sr('Small') }, Readable.from([xva]), {
      lengthBytes: xva.length,
    })) as string[]
    assert.deepEqual(await space('Small'), [12 * MiB, 12 * MiB, 12 * MiB])
    sim.db.update('SR', sr('Small'), { physical_size: 0 })
    const data = patternBytes(6, 4 * MiB)
    const more = await client.putResource(
      '/import_raw_vdi',
      { sr_id: sr('Small'), format: 'raw' },
      Readable.from([data]),
      {
        lengthBytes: data.length,
      },
    )
    assert.deepEqual(await space('Small'), [16 * MiB, 16 * MiB, 0])
    await client.call('VDI.destroy', [more])
    const vdi = sim.db.get('VBD', (sim.db.get('VM', vm ?? '').VBDs as string[])[0] ?? '').VDI as string
    await client.call('VM.destroy', [vm ?? ''])
    await client.call('VDI.destroy', [vdi])
    sim.db.update('SR', sr('Small'), { physical_size: 10 * MiB })
  })

  it('VDI.create: a thick SR refuses a size over its free space, a thin SR accepts any size', async () => {
    const record = (name: string, srName: string, size: number) => ({
      name_label: name, SR: sr(srName), virtual_size: size, type: 'user', sharable: false, read_only: false, other_config: {},
    }) // prettier-ignore
    await assert.rejects(
      client.call('VDI.create', [record('thick 10', 'Thick', 10 * MiB)]),
      failsWith(NO_SPACE),
    )
    const fits = (await client.call('VDI.create', [record('thick 8', 'Thick', 8 * MiB)])) as string
    const thin = (await client.call('VDI.create', [record('thin 1 GiB', 'Small', 1024 * MiB)])) as string
    assert.equal((await client.getRecord('VDI', thin)).virtual_size, 1024 * MiB)
    // /import_raw_vdi?sr_id= makes its VDI with VDI.create: refused before any byte is read.
    const data = patternBytes(7, 10 * MiB)
    const vdis = count('VDI')
    await assert.rejects(
      client.putResource('/import_raw_vdi', { sr_id: sr('Thick'), format: 'raw' }, Readable.from([data]), {
        lengthBytes: data.length,
      }),
      failsWith(NO_SPACE),
    )
    assert.equal(count('VDI'), vdis)
    await client.call('VDI.destroy', [fits])
    await client.call('VDI.destroy', [thin])
  })

  it('full copies need room on their target SR: VDI.copy and VM.copy refuse to overfill it and create nothing', async () => {
    const first = (await client.call('VDI.copy', [diskOf('six'), sr('Thick')])) as string
    assert.equal((await client.getRecord('VDI', first)).SR, sr('Thick'))
    assert.deepEqual(await space('Thick'), [6 * MiB, 6 * MiB, 8 * MiB])
    const before = [count('VM'), count('VBD'), count('VDI')]
    await assert.rejects(client.call('VDI.copy', [diskOf('six'), sr('Thick')]), failsWith(NO_SPACE))
    const vm = sim.pool.vms.get('six') ?? ''
    await assert.rejects(client.call('VM.copy', [vm, 'copy', sr('Thick')]), failsWith(NO_SPACE))
    assert.deepEqual([count('VM'), count('VBD'), count('VDI')], before)
    await client.call('VDI.destroy', [first])
    const copy = await client.call('VM.copy', [vm, 'copy', sr('Unlimited')])
    const [vbd] = (await client.getRecord('VM', copy)).VBDs
    const copied = (await client.call('VBD.get_VDI', [vbd ?? ''])) as string
    assert.equal((await client.getRecord('VDI', copied)).SR, sr('Unlimited'))
    assert.equal((await space('Unlimited'))[0], 6 * MiB)
    await client.call('VM.destroy', [copy])
    await client.call('VDI.destroy', [copied])
  })

  it('guest writes are not limited: the SR can end up over its physical_size', async () => {
    sim.db.update('SR', sr('Small'), { physical_size: 6 * MiB })
    sim.storage.writeBlocks(diskOf('six'), [{ offsetBytes: 0, data: patternBytes(8, 2 * MiB) }])
    const snapshot = await client.call('VDI.snapshot', [diskOf('six'), {}])
    sim.storage.writeBlocks(diskOf('six'), [{ offsetBytes: 0, data: patternBytes(9, 2 * MiB) }])
    assert.deepEqual(await space('Small'), [8 * MiB, 12 * MiB, 6 * MiB])
    await client.call('VDI.destroy', [snapshot])
    sim.db.update('SR', sr('Small'), { physical_size: 10 * MiB })
  })
})
