import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createFixedClock } from '../../shared/clock.ts'
import type { PoolDescription, RunningSimulator } from '../index.ts'
import { PoolDescriptionError, startSimulator, validatePoolDescription } from '../index.ts'
import { jsonRpcLogin } from '../testing/raw-rpc.ts'
import { VDI_BLOCK_BYTES } from './block-store.ts'

const MiB = 1024 * 1024

function pool(content: {
  seed: number
  allocatedFraction: number
  pattern?: 'random' | 'text'
}): PoolDescription {
  return {
    hosts: [{ name: 'h' }],
    srs: [{ name: 'sr' }],
    networks: [],
    vms: [
      {
        name: 'vm',
        powerState: 'Halted',
        disks: [
          { name: 'd0', sizeBytes: 41 * MiB + 512, content },
          { name: 'd1', sizeBytes: 4 * 1024 * MiB, content: { seed: 5, allocatedFraction: 0.5 } },
          { name: 'empty', sizeBytes: 8 * MiB },
        ],
      },
    ],
  }
}

function disks(sim: RunningSimulator): string[] {
  const vm = sim.db.get('VM', sim.pool.vms.get('vm') ?? '')
  return (vm.VBDs as string[]).map((vbd) => sim.db.get('VBD', vbd).VDI as string)
}

describe('seeded disk content in pool descriptions', () => {
  let dir: string
  let a: RunningSimulator
  let b: RunningSimulator
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sim-content-'))
    a = await startSimulator({
      pool: pool({ seed: 11, allocatedFraction: 0.3 }),
      dataDir: dir,
      clock: createFixedClock(),
    })
    b = await startSimulator({ pool: pool({ seed: 11, allocatedFraction: 0.3 }), clock: createFixedClock() })
  })
  after(async () => {
    await a.close()
    await b.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('allocates round(fraction × blocks) blocks, produced only when read (start-up writes nothing)', async () => {
    const [d0, d1, empty] = disks(a) as [string, string, string]
    assert.equal((await stat(join(dir, 'blocks.bin'))).size, 0, 'no block written at start-up')
    const blocks0 = Math.ceil((41 * MiB + 512) / VDI_BLOCK_BYTES) // 21, the last one 512 bytes long
    const allocated = (vdi: string) => (a.db.get('VDI', vdi).physical_utilisation as number) / VDI_BLOCK_BYTES
    assert.ok(Math.abs(allocated(d0) - 0.3 * blocks0) <= 1, `${allocated(d0)} of ${blocks0}`)
    assert.equal(allocated(d1), 1024, 'a 4 GiB disk at 50%')
    assert.equal(allocated(empty), 0)
    assert.equal(a.storage.source(d0).blockIndexes.length, allocated(d0))
    await a.storage.digest(d0)
    assert.ok((await stat(join(dir, 'blocks.bin'))).size > 0, 'read blocks are kept in the block file')
  })

  it('gives the same bytes for the same seed (another simulator, a second read) and others for another seed', async () => {
    const [a0, a1] = disks(a) as [string, string]
    const [b0] = disks(b) as [string]
    const first = await a.storage.digest(a0)
    assert.equal(await a.storage.digest(a0), first, 'a produced block reads back the same from the file')
    assert.equal(await b.storage.digest(b0), first)
    const other = await startSimulator({ pool: pool({ seed: 12, allocatedFraction: 0.3 }) })
    try {
      assert.notEqual(await other.storage.digest(disks(other)[0] ?? ''), first)
    } finally {
      await other.close()
    }
    // Blocks are not zero and differ from one another (nothing to deduplicate).
    const seen = new Set<string>()
    for await (const block of a.storage.source(a1).blocks()) {
      if (seen.size === 64) break
      assert.ok(
        block.data.some((byte) => byte !== 0),
        'block.data.some((byte) => byte !== 0)',
      )
      seen.add(createHash('sha256').update(block.data).digest('hex'))
    }
    assert.equal(seen.size, 64)
  })

  it('streams virtual_size bytes whose digest matches readAll; the partial last block ends in zeros', async () => {
    const [d0] = disks(a) as [string]
    const all = a.storage.readAll(d0)
    assert.equal(all.length, 41 * MiB + 512)
    let length = 0
    const hash = createHash('sha256')
    for await (const chunk of a.storage.rawStream(d0)) {
      length += (chunk as Buffer).length
      hash.update(chunk as Buffer)
    }
    assert.equal(length, all.length)
    assert.equal(hash.digest('hex'), createHash('sha256').update(all).digest('hex'))
  })

  it('snapshots share the content; firstDifference finds the first changed byte of a later write', async () => {
    const [d0] = disks(a) as [string]
    const x = await jsonRpcLogin(a)
    const snap = (await x.call('VDI.snapshot', d0, {})) as string
    assert.equal(a.storage.firstDifference(d0, snap), undefined)
    a.storage.writeBlocks(d0, [{ offsetBytes: 3 * MiB + 77, data: Buffer.from([1, 2, 3]) }])
    const at = a.storage.firstDifference(d0, snap)
    assert.ok(at !== undefined && at >= 3 * MiB + 77 && at <= 3 * MiB + 79, `first difference at ${at}`)
    assert.notEqual(a.storage.readAll(snap)[at], a.storage.readAll(d0)[at])
    assert.equal(a.storage.firstDifference(d0, d0), undefined)
  })

  it('names the field of bad content in a description', () => {
    const bad = (content: unknown, sizeBytes = MiB): string => {
      try {
        validatePoolDescription(
          { hosts: [{ name: 'h' }], vms: [{ name: 'v', disks: [{ sizeBytes, content }] }] },
          'p.yaml',
        )
      } catch (error) {
        assert.ok(error instanceof PoolDescriptionError, 'error instanceof PoolDescriptionError')
        return error.message
      }
      throw new Error('accepted')
    }
    assert.match(
      bad({ seed: 1, allocatedFraction: 1.5 }),
      /p\.yaml: vms\[0\]\.disks\[0\]\.content\.allocatedFraction: expected a number from 0 to 1, got 1\.5/,
    )
    assert.match(
      bad({ seed: -1, allocatedFraction: 0 }),
      /content\.seed: expected a non-negative integer, got -1/,
    )
    assert.match(
      bad({ seed: 1, allocatedFraction: 0, pattern: 'zeros' }),
      /content\.pattern: expected random\|text, got "zeros"/,
    )
    assert.match(bad('x'), /disks\[0\]\.content: expected an object, got "x"/)
    assert.match(
      bad({ seed: 1, allocatedFraction: 0.1 }, 4 * 1024 ** 4),
      /disks\[0\]\.sizeBytes: expected at most \d+ bytes for a disk with content/,
    )
  })
})
