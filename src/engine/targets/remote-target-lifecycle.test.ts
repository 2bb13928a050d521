import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { BlockSource } from '../../formats/block-source.ts'
import type { Remote } from '../../remotes/remote.ts'
import { FaultRemote } from '../../remotes/testing/fault-remote.ts'
import { MemoryRemote } from '../../remotes/testing/memory-remote.ts'
import { metadataPath, vhdPath, vmDir } from '../../repository/layout.ts'
import { listVmBackups } from '../../repository/listing.ts'
import { VM_LOCK_TTL_MS, VM_LOCK_WAIT_MS } from '../../repository/vm-lock.ts'
import type { FixedClock } from '../../shared/clock.ts'
import { createFixedClock } from '../../shared/clock.ts'
import { MemorySink } from '../../tasks/sinks/memory-sink.ts'
import type { Task } from '../../tasks/task.ts'
import { runRootTask } from '../../tasks/task.ts'
import type { BackupTarget, DeltaExport } from '../backup-target.ts'
import type { VmBackupSettings } from '../settings-schema.ts'
import { defaultSettings } from '../settings-schema.ts'
import { createRemoteTarget } from './remote-target.ts'
import type { FakeSnapshot } from './testing/fake-vm.ts'
import {
  DAY,
  deltaExportOf,
  FakeVm,
  JOB_ID,
  MiB,
  recordingRemote,
  runContext,
  runDelta,
} from './testing/fake-vm.ts'

const t0 = Date.UTC(2026, 7, 1, 3)
const hasCode = (code: string) => (e: Error & { code?: string }) => e.code === code

function setup(settings: Partial<VmBackupSettings> = {}, wrap: (r: Remote) => Remote = (r) => r) {
  const clock = createFixedClock(t0)
  const memory = new MemoryRemote({ clock })
  const remote = wrap(memory)
  const make = (more: Partial<VmBackupSettings> = {}) =>
    createRemoteTarget({
      remote,
      remoteId: 'r1',
      settings: { ...defaultSettings(), exportRetention: 3, ...settings, ...more },
      clock,
    })
  const vm = new FakeVm(5, [4 * MiB, 2 * MiB])
  const sink = new MemorySink()
  const inTask = <T>(fn: (task: Task) => Promise<T>) => runRootTask({ sink, clock }, { message: 'VM' }, fn)
  const snapshots: FakeSnapshot[] = []
  const runs = async (target: BackupTarget, n: number) => {
    for (let i = 0; i < n; i++) {
      const previous = snapshots.at(-1)
      const at = t0 + snapshots.length * DAY
      snapshots.push(await inTask((task) => runDelta(target, vm, previous, at, task)))
    }
  }
  const listed = async () => (await listVmBackups(memory, vm.uuid)).backups.map((b) => b.timestampMs)
  /** True when someone else can take the VM lock now (then releases it). */
  const lockIsFree = async () => {
    try {
      const lock = await memory.lock(vmDir(vm.uuid), { ttlMs: 1000 })
      await lock.release()
      return true
    } catch {
      return false
    }
  }
  return {
    clock,
    memory,
    remote,
    target: make(),
    make,
    vm,
    sink,
    inTask,
    snapshots,
    runs,
    listed,
    lockIsFree,
  }
}

/** A source that yields its first block, then fails like a cut export. */
function failingAfterOneBlock(source: BlockSource): BlockSource {
  return {
    ...source,
    async *blocks() {
      for await (const block of source.blocks()) {
        yield block
        break
      }
      throw new Error('export_raw_vdi: connection reset')
    },
  }
}

/** The same source, advancing `clock` by `stepMs` before each block (a slow transfer). */
function slow(source: BlockSource, clock: FixedClock, stepMs: number): BlockSource {
  return {
    ...source,
    async *blocks() {
      for await (const block of source.blocks()) {
        clock.advance(stepMs)
        yield block
      }
    },
  }
}

function withSources(deltaExport: DeltaExport, map: (source: BlockSource) => BlockSource): DeltaExport {
  return { ...deltaExport, disks: deltaExport.disks.map((d) => ({ ...d, source: map(d.source) })) }
}

describe('remote target: lock and call order', () => {
  it('refuses exportRetention 0 and steps without the lock', async () => {
    const s = setup()
    assert.throws(() => s.make({ exportRetention: 0 }), hasCode('TARGET_INVALID'))
    const context = runContext(s.vm, t0)
    await assert.rejects(
      s.inTask((task) => s.target.cleanup?.(context, task) ?? Promise.resolve()),
      hasCode('TARGET_STATE'),
    )
    await s.inTask(async (task) => {
      await s.target.beforeBackup(context, task)
      await assert.rejects(s.target.beforeBackup(context, task), hasCode('TARGET_STATE'))
      await s.target.afterBackup(context, task)
    })
    assert.equal(await s.lockIsFree(), true)
  })

  it('a transfer that throws releases the lock at once and leaves nothing of the backup', async () => {
    const s = setup()
    await s.runs(s.target, 1)
    const context = runContext(s.vm, t0 + DAY)
    const snapshot = s.vm.snapshot()
    await s.inTask(async (task) => {
      await s.target.beforeBackup(context, task)
      assert.equal(await s.lockIsFree(), false)
      await assert.rejects(
        s.target.transfer?.(
          context,
          withSources(deltaExportOf(s.vm, snapshot, new Map()), failingAfterOneBlock),
          task,
        ) ?? Promise.resolve(),
        /connection reset/,
      )
      assert.equal(await s.lockIsFree(), true, 'released before afterBackup')
      await assert.rejects(s.target.cleanup?.(context, task) ?? Promise.resolve(), hasCode('TARGET_STATE'))
      await s.target.afterBackup(context, task)
    })
    assert.deepEqual(await s.listed(), [t0])
    const stamp = metadataPath(s.vm.uuid, t0 + DAY).slice(-21, -5)
    assert.deepEqual(
      [...s.memory.files.keys()].filter((p) => p.includes(stamp)),
      [],
    )
  })

  it('a beforeBackup that fails after taking the lock releases it; a held lock makes it fail with LOCKED', async () => {
    const faulty = { remote: undefined as FaultRemote | undefined }
    const s = setup({}, (inner) => (faulty.remote = new FaultRemote(inner)))
    faulty.remote?.setPlan({ failOperation: { nth: 1, operation: 'list' } })
    const context = runContext(s.vm, t0)
    await assert.rejects(
      s.inTask((task) => s.target.beforeBackup(context, task)),
      hasCode('UNAVAILABLE'),
    )
    assert.equal(await s.lockIsFree(), true)
    faulty.remote?.setPlan({})
    // A live holder (its lease outlasts the wait): refused with LOCKED after VM_LOCK_WAIT_MS.
    const other = await s.memory.lock(vmDir(s.vm.uuid), { ttlMs: 10 * VM_LOCK_WAIT_MS })
    const start = s.clock.now()
    await assert.rejects(
      s.inTask((task) => s.target.beforeBackup(context, task)),
      hasCode('LOCKED'),
    )
    assert.ok(s.clock.now() - start >= VM_LOCK_WAIT_MS, 'it waited for the lease first')
    await other.refresh() // still the other holder's
    await other.release()
  })

  it('a lock left by a crashed run (lease not renewed) is waited for and taken over', async () => {
    const s = setup()
    const crashed = await s.memory.lock(vmDir(s.vm.uuid), { ttlMs: VM_LOCK_TTL_MS })
    const start = s.clock.now()
    await s.runs(s.target, 1)
    assert.ok(s.clock.now() - start >= VM_LOCK_TTL_MS, 'waited until the lease ran out')
    assert.ok(s.clock.now() - start < VM_LOCK_WAIT_MS, 'and no longer')
    assert.equal((await s.listed()).length, 1)
    assert.ok(
      s.sink.events.some((e) => e.event === 'task.info' && /waiting for the VM lock/.test(e.message)),
      'the wait is in the log',
    )
    await assert.rejects(crashed.refresh(), hasCode('LOCK_LOST'))
    assert.equal(await s.lockIsFree(), true)
  })

  it('keeps the lock alive through a transfer longer than its lease', async () => {
    const s = setup()
    const context = runContext(s.vm, t0)
    const snapshot = s.vm.snapshot()
    // Three blocks, 20 minutes each: an hour, far beyond the lease.
    const exported = withSources(deltaExportOf(s.vm, snapshot, new Map()), (src) =>
      slow(src, s.clock, 20 * 60_000),
    )
    await s.inTask(async (task) => {
      await s.target.beforeBackup(context, task)
      await s.target.transfer?.(context, exported, task)
      assert.equal(await s.lockIsFree(), false, 'the lease was renewed during the transfer')
      await s.target.afterBackup(context, task)
    })
    assert.equal(await s.lockIsFree(), true)
  })
})

describe('remote target: delta specifics', () => {
  it('a delta backup whose metadata exists is not written again and its disks are not read', async () => {
    const s = setup()
    await s.runs(s.target, 1)
    const before = new Map([...s.memory.files].map(([p, f]) => [p, f.data]))
    let read = false
    const context = runContext(s.vm, t0)
    // The same snapshot again (a replayed run): its uuid is the one the metadata holds.
    const [written] = (await listVmBackups(s.memory, s.vm.uuid)).backups
    const sameSnapshot = { ...s.vm.snapshot(), uuid: written?.metadata.vmSnapshot.uuid ?? '' }
    const exported = withSources(deltaExportOf(s.vm, sameSnapshot, new Map()), (src) => ({
      ...src,
      blocks() {
        read = true
        return src.blocks()
      },
    }))
    const result = await s.inTask(async (task) => {
      await s.target.beforeBackup(context, task)
      try {
        return await s.target.transfer?.(context, exported, task)
      } finally {
        await s.target.afterBackup(context, task)
      }
    })
    assert.deepEqual(result, { sizeBytes: 0 })
    assert.equal(read, false)
    assert.deepEqual(new Map([...s.memory.files].map(([p, f]) => [p, f.data])), before)
    const infos = s.sink.events.flatMap((e) => (e.event === 'task.info' ? [e.message] : []))
    assert.ok(
      infos.some((m) => /on the remote already/.test(m)),
      infos.join('\n'),
    )
  })

  it('deleteFirst deletes the expired metadata before the first VHD is written; without it, after the metadata', async () => {
    for (const deleteFirst of [true, false]) {
      const log: string[] = []
      const s = setup({ exportRetention: 2, deleteFirst }, (inner) => recordingRemote(inner, log))
      await s.runs(s.target, 2)
      log.length = 0
      await s.runs(s.target, 1)
      const deleted = log.indexOf(`delete ${metadataPath(s.vm.uuid, t0)}`)
      const firstVhd = log.indexOf(
        `write ${vhdPath(s.vm.uuid, JOB_ID, s.vm.liveVdiUuids[0] ?? '', t0 + 2 * DAY)}`,
      )
      const metadata = log.indexOf(`write ${metadataPath(s.vm.uuid, t0 + 2 * DAY)}`)
      assert.ok(deleted >= 0 && firstVhd >= 0 && metadata > firstVhd, log.join('\n'))
      if (deleteFirst) assert.ok(deleted < firstVhd, log.join('\n'))
      else assert.ok(metadata < deleted, log.join('\n'))
      assert.deepEqual(await s.listed(), [t0 + DAY, t0 + 2 * DAY])
    }
  })

  it('deletes at most maxMergedDeltasPerRun expired backups per run, deleteFirst and cleanup together', async () => {
    for (const deleteFirst of [true, false]) {
      const s = setup({ exportRetention: 5 })
      await s.runs(s.target, 4)
      await s.runs(s.make({ exportRetention: 1, maxMergedDeltasPerRun: 2, deleteFirst }), 1)
      assert.deepEqual(
        await s.listed(),
        [2, 3, 4].map((i) => t0 + i * DAY),
        `deleteFirst ${deleteFirst}`,
      )
    }
  })

  it('refuses an export whose disk has no VDI record, or two disks of one live VDI, before writing anything', async () => {
    const s = setup()
    const context = runContext(s.vm, t0)
    const exported = deltaExportOf(s.vm, s.vm.snapshot(), new Map())
    const [d0, d1] = exported.disks
    assert.ok(d0 !== undefined && d1 !== undefined, 'd0 !== undefined && d1 !== undefined')
    const cases: DeltaExport[] = [
      { ...exported, vdis: {} },
      { ...exported, disks: [d0, { ...d1, liveVdiUuid: d0.liveVdiUuid }] },
    ]
    for (const bad of cases) {
      await s.inTask(async (task) => {
        await s.target.beforeBackup(context, task)
        await assert.rejects(
          s.target.transfer?.(context, bad, task) ?? Promise.resolve(),
          hasCode('TARGET_INVALID'),
        )
        await s.target.afterBackup(context, task)
      })
    }
    assert.deepEqual(
      [...s.memory.files.keys()].filter((p) => p.endsWith('.vhd') || p.endsWith('.json')),
      [],
    )
  })
})
