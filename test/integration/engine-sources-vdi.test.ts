// The engine's disk source against the simulator (issue 10 scope 4): `/export_raw_vdi?format=vhd`
// read as a BlockSource while it streams, full and delta, with its checks on size and type.
import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import type { BlockSource } from '../../src/formats/block-source.ts'
import { openVdiExport } from '../../src/engine/sources/vdi-export.ts'
import { createRateLimiter } from '../../src/engine/rate-limit.ts'
import { overriding, recordTaskEnds } from '../../src/engine/sources/testing/test-xapi.ts'
import { createFixedClock } from '../../src/shared/clock.ts'
import { startSimulator } from '../../src/simulator/index.ts'
import type { RunningSimulator } from '../../src/simulator/index.ts'
import { DATA_POOL, MiB, patternBytes } from '../../src/simulator/testing/data-plane.ts'
import { HttpXapiClient } from '../../src/xapi/http-xapi-client.ts'
import type { XapiClient } from '../../src/xapi/types.ts'

/** The disk image a block source describes: its blocks over zeros (over `base` for a delta). */
async function imageOf(source: BlockSource, base?: Buffer): Promise<{ image: Buffer; seen: number[] }> {
  const image = base === undefined ? Buffer.alloc(source.virtualSize) : Buffer.from(base)
  const seen: number[] = []
  for await (const block of source.blocks()) {
    seen.push(block.index)
    image.set(block.data, block.index * source.blockSize)
  }
  return { image, seen }
}

/** One task was started and it ended (a small export may have been sent whole before the close). */
function assertEnded(ends: Map<string, string>): void {
  assert.equal(ends.size, 1, [...ends.keys()].join())
  assert.ok(
    ['success', 'failure', 'cancelled'].includes([...ends.values()][0] ?? ''),
    [...ends.values()].join(),
  )
}

describe('engine sources: openVdiExport', () => {
  let sim: RunningSimulator
  let client: HttpXapiClient

  const liveDisk = async (): Promise<string> => {
    const vm = sim.pool.vms.get('one-disk') ?? assert.fail('no VM')
    const vbd = (sim.db.get('VM', vm).VBDs as string[])[0] ?? assert.fail('no VBD')
    return client.call('VDI.clone', [sim.db.get('VBD', vbd).VDI as string, {}])
  }

  before(async () => {
    sim = await startSimulator({ pool: DATA_POOL })
    client = new HttpXapiClient({ url: sim.url, user: sim.username, password: sim.password })
    await client.connect()
  })
  after(async () => {
    await client.disconnect()
    await sim.close()
  })

  it('full: blockIndexes are known before any block; the blocks are the disk, byte for byte', async () => {
    const vdi = await liveDisk()
    sim.storage.writeBlocks(vdi, [
      { offsetBytes: 0, data: patternBytes(1, MiB) },
      { offsetBytes: 5 * MiB, data: patternBytes(2, 8192) },
    ])
    const ends = recordTaskEnds(sim)
    const source = await openVdiExport(client, { vdiRef: vdi })
    assert.equal(source.diskType, 'dynamic')
    assert.equal(source.vdiUuid, sim.db.get('VDI', vdi).uuid)
    assert.deepEqual(source.blockIndexes, [0, 2])
    assert.equal(source.virtualSize, 6 * MiB + 4096)
    assert.equal(source.blockSize, 2 * MiB)
    const { image, seen } = await imageOf(source)
    assert.deepEqual(seen, [0, 2])
    assert.deepEqual(image, sim.storage.readAll(vdi))
    await source.result()
    assert.equal(ends().get(source.taskRef), 'success')
    assert.throws(() => source.blocks(), /blocks\(\) can be iterated once/)
  })

  it('delta over a snapshot: only the changed blocks, which rebuild the new snapshot on the old', async () => {
    const vdi = await liveDisk()
    sim.storage.writeBlocks(vdi, [{ offsetBytes: 0, data: patternBytes(3, 3 * MiB) }])
    const s1 = await client.call('VDI.snapshot', [vdi, {}])
    sim.storage.writeBlocks(vdi, [
      { offsetBytes: 2 * MiB + 100, data: patternBytes(4, 1000) },
      { offsetBytes: 6 * MiB, data: patternBytes(5, 4096) },
    ])
    const s2 = await client.call('VDI.snapshot', [vdi, {}])
    const source = await openVdiExport(client, { vdiRef: s2, baseVdiRef: s1 })
    assert.equal(source.diskType, 'differencing')
    assert.deepEqual(source.blockIndexes, [1, 3])
    const { image, seen } = await imageOf(source, sim.storage.readAll(s1))
    assert.deepEqual(seen, [1, 3])
    assert.deepEqual(image, sim.storage.readAll(s2))
    await source.result()
  })

  it('the job rate limiter paces the body (on an injected clock: nothing waits for real)', async () => {
    const vdi = await liveDisk()
    sim.storage.writeBlocks(vdi, [{ offsetBytes: 0, data: patternBytes(6, 4 * MiB) }])
    const clock = createFixedClock()
    const rateLimiter = createRateLimiter(MiB, { clock, burstBytes: 64 * 1024 })
    const source = await openVdiExport(client, { vdiRef: vdi, rateLimiter })
    await imageOf(source)
    await source.result()
    assert.ok(source.bytesRead > 4 * MiB, 'source.bytesRead > 4 * MiB')
    const expectedMs = ((source.bytesRead - 64 * 1024) / MiB) * 1000
    assert.ok(Math.abs(clock.sleptMs - expectedMs) < 1, `slept ${clock.sleptMs} ms, expected ${expectedMs}`)
  })

  it('a stream whose size is not the VDI virtual_size is refused; the task does not stay pending', async () => {
    const vdi = await liveDisk()
    for (const delta of [-512, 2 * MiB]) {
      const ends = recordTaskEnds(sim)
      const lying = overriding(client, {
        getRecord: (async (cls: 'VDI', ref: string) => {
          const record = await client.getRecord(cls, ref)
          return { ...record, virtual_size: record.virtual_size + delta }
        }) as XapiClient['getRecord'],
      })
      const error = await openVdiExport(lying, { vdiRef: vdi }).then(
        () => assert.fail('opened'),
        (e: unknown) => e,
      )
      assert.equal((error as { code?: string }).code, 'EXPORT_SIZE_MISMATCH', String(error))
      const uuid = sim.db.get('VDI', vdi).uuid as string
      assert.match(
        (error as Error).message,
        new RegExp(
          `VDI ${uuid}.*footer\\.currentSize.*expected the VDI's virtual_size ${6 * MiB + 4096 + delta}, got ${6 * MiB + 4096}`,
        ),
      )
      assertEnded(ends())
    }
  })

  it('a delta asked but a full stream received is refused (the blocks would not be the changed ones)', async () => {
    const vdi = await liveDisk()
    const s1 = await client.call('VDI.snapshot', [vdi, {}])
    const s2 = await client.call('VDI.snapshot', [vdi, {}])
    const ends = recordTaskEnds(sim)
    const ignoringBase = overriding(client, {
      getResource: (path, { base: _base, ...query }, options) => client.getResource(path, query, options),
    })
    await assert.rejects(openVdiExport(ignoringBase, { vdiRef: s2, baseVdiRef: s1 }), (error: Error) => {
      assert.equal((error as { code?: string }).code, 'EXPORT_UNEXPECTED_FORMAT')
      assert.match(
        error.message,
        /expected a differencing VHD \(a delta over VDI [0-9a-f-]{36}\), got disk type 3/,
      )
      return true
    })
    assertEnded(ends())
  })

  it('an XAPI error page inside a 200 body (xen-api#4603) is named as such', async () => {
    const vdi = await liveDisk()
    const page = overriding(client, {
      getResource: () =>
        Promise.resolve({
          body: Readable.from([Buffer.from('HTTP/1.1 500 Internal Error\r\n\r\nSR_BACKEND_FAILURE_46')]),
          taskRef: 'OpaqueRef:fake',
          result: () => Promise.resolve(''),
        }),
    })
    await assert.rejects(openVdiExport(page, { vdiRef: vdi }), {
      code: 'EXPORT_UNEXPECTED_FORMAT',
      message: /byte 0: expected the export data, got an HTTP answer inside the body/,
    })
  })
})
