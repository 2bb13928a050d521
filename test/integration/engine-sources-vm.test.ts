// The engine's full-backup source against the simulator (issue 10 scope 4): `/export` with the
// job's compression, its bytes passed on as they come, fanned out to several targets.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { fanOut, runConsumers } from '../../src/engine/fan-out.ts'
import { openVmExport } from '../../src/engine/sources/vm-export.ts'
import { overriding, recordTaskEnds } from '../../src/engine/sources/testing/test-xapi.ts'
import { openXva } from '../../src/formats/xva/index.ts'
import { startSimulator } from '../../src/simulator/index.ts'
import type { RunningSimulator } from '../../src/simulator/index.ts'
import { DATA_POOL, MiB, collectBytes, patternBytes } from '../../src/simulator/testing/data-plane.ts'
import { HttpXapiClient } from '../../src/xapi/http-xapi-client.ts'

describe('engine sources: openVmExport', () => {
  let sim: RunningSimulator
  let client: HttpXapiClient
  let vm: string

  /** Every disk of an XVA (by VDI uuid) rebuilt from its blocks, checked against the simulator's storage. */
  async function assertDisksMatch(
    xva: AsyncIterable<Uint8Array> | Buffer[],
    compression: string,
  ): Promise<void> {
    const reader = await openXva(xva)
    assert.equal(reader.compression, compression)
    let disks = 0
    for await (const disk of reader.disks()) {
      const image = Buffer.alloc(disk.virtualSize)
      for await (const block of disk.blocks()) image.set(block.data, block.index * disk.blockSize)
      const uuid = disk.vdi.snapshot.uuid as string
      const [vdi] = sim.db.select('VDI', (r) => r.uuid === uuid)
      assert.ok(vdi !== undefined, `no VDI ${uuid}`)
      assert.ok(image.equals(sim.storage.readAll(vdi)), `disk ${uuid}`)
      disks += 1
    }
    assert.equal(disks, 3)
  }

  before(async () => {
    sim = await startSimulator({ pool: DATA_POOL })
    client = new HttpXapiClient({ url: sim.url, user: sim.username, password: sim.password })
    await client.connect()
    vm = sim.pool.vms.get('three-disks') ?? assert.fail('no VM')
    const disks = (sim.db.get('VM', vm).VBDs as string[]).map((vbd) => sim.db.get('VBD', vbd).VDI as string)
    disks.forEach((vdi, n) => {
      sim.storage.writeBlocks(vdi, [{ offsetBytes: MiB / 2, data: patternBytes(20 + n, 2 * MiB) }])
    })
  })
  after(async () => {
    await client.disconnect()
    await sim.close()
  })

  for (const [compression, expected] of [
    ['', 'none'],
    ['native', 'gzip'],
    ['zstd', 'zstd'],
  ] as const) {
    it(`compression '${compression}': an XVA compressed with ${expected} holding every disk byte`, async () => {
      const ends = recordTaskEnds(sim)
      const snapshot = await client.call('VM.snapshot', [vm, `backup ${compression}`])
      const source = await openVmExport(client, { vmRef: snapshot, compression })
      await assertDisksMatch(source.stream, expected)
      await source.result()
      assert.ok(source.bytesRead > 1024, 'source.bytesRead > 1024')
      assert.equal(ends().get(source.taskRef), 'success')
    })
  }

  it('refuses a body not compressed as asked (the backup metadata would lie) and ends the task', async () => {
    const ends = recordTaskEnds(sim)
    const snapshot = await client.call('VM.snapshot', [vm, 'backup mismatch'])
    // A host that ignores use_compression=zstd (xapi.md §3.1: unknown values mean none).
    const old = overriding(client, {
      getResource: (path, query, options) =>
        client.getResource(path, { ...query, use_compression: 'false' }, options),
    })
    const source = await openVmExport(old, { vmRef: snapshot, compression: 'zstd' })
    await assert.rejects(collectBytes(source.stream), {
      code: 'EXPORT_UNEXPECTED_FORMAT',
      message: /byte 0: expected an XVA compressed with zstd \(use_compression=zstd\), got none/,
    })
    const statuses = [...ends().values()]
    assert.equal(statuses.length, 1)
    assert.ok(['success', 'failure', 'cancelled'].includes(statuses[0] ?? ''), statuses.join())
  })

  it('a cut body: the stream ends short and result() names the VM and the task failure', async () => {
    const snapshot = await client.call('VM.snapshot', [vm, 'backup cut'])
    sim.faults.cutStream('/export', 3 * MiB)
    const source = await openVmExport(client, { vmRef: snapshot, compression: '', vmUuid: 'the-vm-uuid' })
    const bytes = await collectBytes(source.stream).catch(() => Buffer.alloc(0))
    assert.ok(bytes.length <= 3 * MiB, 'bytes.length <= 3 * MiB')
    await assert.rejects(source.result(), {
      code: 'EXPORT_TASK_FAILED',
      message:
        /GET \/export\?use_compression=false of VM the-vm-uuid \(OpaqueRef:.*\): the XAPI task failed: .*INTERNAL_ERROR/,
    })
  })

  it('fan-out to two targets: one fails and is dropped, the other receives the whole XVA', async () => {
    const snapshot = await client.call('VM.snapshot', [vm, 'backup fan-out'])
    const source = await openVmExport(client, { vmRef: snapshot, compression: 'zstd' })
    const drops: number[] = []
    const fan = fanOut(source.stream, 2, {
      onDrop: (index) => drops.push(index),
      close: (reason) => source.close(reason),
    })
    const outcomes = await runConsumers(fan, async (stream, index) => {
      const chunks: Buffer[] = []
      for await (const chunk of stream) {
        if (index === 0 && chunks.length === 2) throw new Error('remote A: write failed')
        chunks.push(Buffer.from(chunk))
      }
      return chunks
    })
    await source.result()
    assert.deepEqual(drops, [0])
    const whole = outcomes[1]
    assert.ok(whole?.ok === true, 'whole?.ok === true')
    assert.equal(Buffer.concat(whole.value).length, source.bytesRead)
    await assertDisksMatch(whole.value, 'zstd')
  })
})
