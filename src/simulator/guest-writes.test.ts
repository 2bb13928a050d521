import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createFixedClock } from '../shared/clock.ts'
import type { PoolDescription, RunningSimulator } from './index.ts'
import { GuestOptionError, startSimulator } from './index.ts'
import { CBT_BLOCK_BYTES } from './storage/cbt-logs.ts'
import { VDI_BLOCK_BYTES } from './storage/block-store.ts'
import type { JsonRpcTestClient } from './testing/raw-rpc.ts'
import { jsonRpcLogin } from './testing/raw-rpc.ts'

const MiB = 1024 * 1024

const POOL: PoolDescription = {
  hosts: [{ name: 'h' }],
  srs: [{ name: 'sr', supportsCbt: true }],
  networks: [],
  vms: [
    {
      name: 'running',
      powerState: 'Running',
      disks: [
        { sizeBytes: 40 * MiB, content: { seed: 1, allocatedFraction: 0.5 } },
        { sizeBytes: 21 * MiB, content: { seed: 2, allocatedFraction: 0.25, pattern: 'text' } },
      ],
    },
    {
      name: 'halted',
      powerState: 'Halted',
      disks: [{ sizeBytes: 8 * MiB, content: { seed: 3, allocatedFraction: 1 } }],
    },
  ],
}

describe('simulated guest writes (xapi.md §8.3)', () => {
  let sim: RunningSimulator
  let x: JsonRpcTestClient
  const vm = (name: string) => sim.pool.vms.get(name) ?? ''
  const disks = (ref: string) =>
    (sim.db.get('VM', ref).VBDs as string[]).map((vbd) => sim.db.get('VBD', vbd).VDI as string)

  before(async () => {
    sim = await startSimulator({ pool: POOL, clock: createFixedClock() })
    x = await jsonRpcLogin(sim)
  })
  after(() => sim.close())

  it('guestWrite changes exactly round(fraction × blocks) blocks of each live VDI; the snapshot keeps its bytes', async () => {
    const live = disks(vm('running'))
    for (const vdi of live) await x.call('VDI.enable_cbt', vdi)
    const snap = (await x.call('VM.snapshot', vm('running'), 'before', [])) as string
    const snapVdis = disks(snap)
    const snapDigests = await Promise.all(snapVdis.map((vdi) => sim.storage.digest(vdi)))
    const written = sim.guestWrite(vm('running'), { seed: 9, changedFraction: 0.3 })
    assert.deepEqual(
      written.map((w) => [w.vdi, w.blocks.length]),
      [
        [live[0], 6], // 20 blocks × 0.3
        [live[1], 3], // 11 blocks × 0.3 = 3.3
      ],
    )
    for (const [i, { vdi, blocks }] of written.entries()) {
      assert.deepEqual(
        sim.storage.changedBlocks(vdi, snapVdis[i] ?? ''),
        blocks,
        'exactly these blocks differ',
      )
      const first = sim.storage.firstDifference(vdi, snapVdis[i] ?? '')
      assert.equal(Math.floor((first ?? -1) / VDI_BLOCK_BYTES), blocks[0], 'and their bytes really changed')
      assert.equal(await sim.storage.digest(snapVdis[i] ?? ''), snapDigests[i], 'the snapshot is unchanged')
    }
    // CBT sees the writes: every 64 KiB of each rewritten block, nothing else.
    const snap2 = (await x.call('VM.snapshot', vm('running'), 'after', [])) as string
    const bitmap = Buffer.from(
      (await x.call('VDI.list_changed_blocks', snapVdis[0], disks(snap2)[0])) as string,
      'base64',
    )
    const perBlock = VDI_BLOCK_BYTES / CBT_BLOCK_BYTES
    const set: number[] = []
    for (let bit = 0; bit < bitmap.length * 8; bit++)
      if (((bitmap[bit >> 3] ?? 0) & (0x80 >> (bit & 7))) !== 0) set.push(bit)
    assert.deepEqual(
      set,
      written[0]?.blocks.flatMap((b) => Array.from({ length: perBlock }, (_, k) => b * perBlock + k)),
    )
  })

  it('same seed and calls give the same bytes in another simulator; a VM uuid works like its ref', async () => {
    const other = await startSimulator({ pool: POOL, clock: createFixedClock() })
    try {
      const a = sim.guestWrite(sim.db.get('VM', vm('running')).uuid as string, {
        seed: 4,
        changedFraction: 0.5,
      })
      const ref = other.pool.vms.get('running') ?? ''
      other.guestWrite(ref, { seed: 9, changedFraction: 0.3 }) // the same history as `sim`
      const b = other.guestWrite(ref, { seed: 4, changedFraction: 0.5 })
      assert.deepEqual(
        a.map((w) => w.blocks),
        b.map((w) => w.blocks),
      )
      const otherDisks = (other.db.get('VM', ref).VBDs as string[]).map(
        (vbd) => other.db.get('VBD', vbd).VDI as string,
      )
      for (const [i, w] of a.entries()) {
        assert.equal(await sim.storage.digest(w.vdi), await other.storage.digest(otherDisks[i] ?? ''))
      }
    } finally {
      await other.close()
    }
  })

  it('refuses a VM that is not running (nothing written) and bad options, naming them', async () => {
    const halted = vm('halted')
    const [vdi] = disks(halted) as [string]
    const digest = await sim.storage.digest(vdi)
    assert.throws(
      () => sim.guestWrite(halted, { seed: 1, changedFraction: 1 }),
      (error: unknown) =>
        error instanceof Error &&
        (error as { code?: string }).code === 'VM_BAD_POWER_STATE' &&
        JSON.stringify((error as unknown as { params: string[] }).params) ===
          JSON.stringify([halted, 'running', 'halted']),
    )
    assert.equal(await sim.storage.digest(vdi), digest)
    assert.throws(
      () => sim.guestWrite('no-such-vm', { seed: 1, changedFraction: 0 }),
      /UUID_INVALID\(VM, no-such-vm\)/,
    )
    const invalid = (fn: () => unknown, pattern: RegExp): void => {
      assert.throws(fn, (error: unknown) => {
        assert.ok(error instanceof GuestOptionError, 'error instanceof GuestOptionError')
        assert.equal((error as { code: string }).code, 'SIMULATOR_GUEST_OPTION_INVALID')
        return pattern.test(error.message)
      })
    }
    invalid(
      () => sim.guestWrite(vm('running'), { seed: 1, changedFraction: 2 }),
      /changedFraction: expected 0\.\.1, got 2/,
    )
    invalid(
      () => sim.guestWrite(vm('running'), { seed: 1.5, changedFraction: 0 }),
      /seed: expected a non-negative integer, got 1\.5/,
    )
    invalid(
      () => sim.startGuestActivity(vm('running'), { seed: 1, writesPerSecond: 0 }),
      /writesPerSecond: expected a positive number, got 0/,
    )
    invalid(() => sim.startGuestActivity(vm('running'), { seed: 1, blocksPerWrite: 0 }), /blocksPerWrite/)
  })

  it('guest activity writes on ticks of the clock while the VM runs, the same blocks for the same seed', async () => {
    const run = async (target: RunningSimulator): Promise<number[][]> => {
      const ref = target.pool.vms.get('running') ?? ''
      const vdis = (target.db.get('VM', ref).VBDs as string[]).map(
        (vbd) => target.db.get('VBD', vbd).VDI as string,
      )
      const client = await jsonRpcLogin(target)
      const snaps = await Promise.all(vdis.map((vdi) => client.call('VDI.snapshot', vdi, {})))
      const activity = target.startGuestActivity(ref, {
        seed: 77,
        writesPerSecond: 50,
        blocksPerWrite: 2,
        ticks: 20,
      })
      await activity.done
      assert.deepEqual([activity.writes, activity.idleTicks], [20, 0])
      return vdis.map((vdi, i) => target.storage.changedBlocks(vdi, snaps[i] as string))
    }
    const fresh = await startSimulator({ pool: POOL, clock: createFixedClock() })
    try {
      const changed = await run(fresh)
      const count = changed.flat().length
      assert.ok(count > 0 && count <= 40, `${count} blocks changed by 20 ticks of 2 blocks`)
      const again = await startSimulator({ pool: POOL, clock: createFixedClock() })
      try {
        assert.deepEqual(await run(again), changed)
      } finally {
        await again.close()
      }
    } finally {
      await fresh.close()
    }
  })

  it('activity on a halted VM only idles; stop and close end unbounded activities', async () => {
    const [vdi] = disks(vm('halted')) as [string]
    const digest = await sim.storage.digest(vdi)
    const idle = sim.startGuestActivity(vm('halted'), { seed: 1, ticks: 5 })
    await idle.done
    assert.deepEqual([idle.writes, idle.idleTicks], [0, 5])
    assert.equal(await sim.storage.digest(vdi), digest)
    const endless = sim.startGuestActivity(vm('running'), { seed: 2 })
    while (endless.writes < 3) await new Promise((resolve) => setImmediate(resolve))
    await endless.stop()
    const writes = endless.writes
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(endless.writes, writes, 'no write after stop')
    const other = await startSimulator({ pool: POOL, clock: createFixedClock() })
    const unstopped = other.startGuestActivity(other.pool.vms.get('running') ?? '', { seed: 3 })
    await other.close()
    await unstopped.done
  })
})
