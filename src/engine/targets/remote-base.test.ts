import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { FOOTER_SIZE } from '../../formats/vhd/constants.ts'
import { decodeFooter } from '../../formats/vhd/footer.ts'
import { MemoryRemote } from '../../remotes/testing/memory-remote.ts'
import { listVmBackups } from '../../repository/listing.ts'
import { vhdPath, vmDir } from '../../repository/layout.ts'
import { createFixedClock } from '../../shared/clock.ts'
import { newUuid } from '../../shared/ids.ts'
import { MemorySink } from '../../tasks/sinks/memory-sink.ts'
import type { Task } from '../../tasks/task.ts'
import { runRootTask } from '../../tasks/task.ts'
import { defaultSettings } from '../settings-schema.ts'
import { createRemoteTarget } from './remote-target.ts'
import type { FakeSnapshot } from './testing/fake-vm.ts'
import { DAY, deltaExportOf, FakeVm, JOB_ID, MiB, runContext, runDelta } from './testing/fake-vm.ts'

const t0 = Date.UTC(2026, 5, 1, 1)

async function setup(runs: number) {
  const clock = createFixedClock(t0)
  const remote = new MemoryRemote({ clock })
  const vm = new FakeVm(3, [4 * MiB, 2 * MiB])
  const target = createRemoteTarget({
    remote,
    remoteId: 'r1',
    settings: { ...defaultSettings(), exportRetention: 5 },
    clock,
  })
  const sink = new MemorySink()
  const inTask = <T>(fn: (task: Task) => Promise<T>) => runRootTask({ sink, clock }, { message: 'VM' }, fn)
  const snapshots: FakeSnapshot[] = []
  for (let i = 0; i < runs; i++) {
    const previous = snapshots.at(-1)
    snapshots.push(await inTask((task) => runDelta(target, vm, previous, t0 + i * DAY, task)))
  }
  return { clock, remote, vm, target, sink, inTask, snapshots, last: snapshots.at(-1) as FakeSnapshot }
}

/** Runs checkBaseVdis on `candidates` inside beforeBackup/afterBackup; returns what is left and the infos. */
async function check(s: Awaited<ReturnType<typeof setup>>, candidates: Map<string, string>) {
  const context = runContext(s.vm, t0 + 30 * DAY)
  const infos: string[] = []
  await s.inTask(async (task) => {
    await s.target.beforeBackup(context, task)
    try {
      await s.target.checkBaseVdis?.(context, candidates, task)
    } finally {
      await s.target.afterBackup(context, task)
    }
  })
  for (const e of s.sink.events) if (e.event === 'task.info') infos.push(JSON.stringify(e.data))
  return { left: candidates, infos }
}

describe('remote target: checkBaseVdis', () => {
  it('keeps a base whose backup is the newest of its disk, and each VHD carries its snapshot VDI uuid', async () => {
    const s = await setup(2)
    const [d0, d1] = s.last.disks
    assert.ok(d0 !== undefined && d1 !== undefined, 'd0 !== undefined && d1 !== undefined')
    for (const disk of [d0, d1]) {
      const path = vhdPath(s.vm.uuid, JOB_ID, disk.liveVdiUuid, t0 + DAY)
      const bytes = s.remote.files.get(path)?.data ?? Buffer.alloc(0)
      assert.equal(decodeFooter(bytes.subarray(bytes.length - FOOTER_SIZE)).uniqueId, disk.snapshotVdiUuid)
    }
    const { left } = await check(
      s,
      new Map([
        [d0.snapshotVdiUuid, d0.liveVdiUuid],
        [d1.snapshotVdiUuid, d1.liveVdiUuid],
      ]),
    )
    assert.deepEqual([...left.keys()], [d0.snapshotVdiUuid, d1.snapshotVdiUuid])
  })

  it('drops a base whose chain tip has another UUID, a disk without backups, and an older backup', async () => {
    const s = await setup(2)
    const [d0, d1] = s.last.disks
    assert.ok(d0 !== undefined && d1 !== undefined, 'd0 !== undefined && d1 !== undefined')
    const stranger = newUuid()
    const { left, infos } = await check(
      s,
      new Map([
        [s.snapshots[0]?.disks[0]?.snapshotVdiUuid ?? '', d0.liveVdiUuid], // backed up, but not the newest
        [d1.snapshotVdiUuid, d1.liveVdiUuid],
        [newUuid(), stranger], // a disk never backed up here
      ]),
    )
    assert.deepEqual([...left.keys()], [d1.snapshotVdiUuid])
    assert.ok(
      infos.some((i) => i.includes('is not the base snapshot VDI')),
      infos.join('\n'),
    )
    assert.ok(
      infos.some((i) => i.includes('no backup of this disk')),
      infos.join('\n'),
    )
  })

  it('drops a base whose chain is unreadable (its key damaged)', async () => {
    const s = await setup(2)
    const [d0, d1] = s.last.disks
    assert.ok(d0 !== undefined && d1 !== undefined, 'd0 !== undefined && d1 !== undefined')
    const key = vhdPath(s.vm.uuid, JOB_ID, d0.liveVdiUuid, t0)
    const bytes = Buffer.from(s.remote.files.get(key)?.data ?? Buffer.alloc(0))
    bytes.fill(0, bytes.length - FOOTER_SIZE)
    bytes.fill(0, 0, FOOTER_SIZE)
    await s.remote.write(key, bytes)
    const { left, infos } = await check(
      s,
      new Map([
        [d0.snapshotVdiUuid, d0.liveVdiUuid],
        [d1.snapshotVdiUuid, d1.liveVdiUuid],
      ]),
    )
    assert.deepEqual([...left.keys()], [d1.snapshotVdiUuid])
    assert.ok(
      infos.some((i) => i.includes('chain unreadable')),
      infos.join('\n'),
    )
    // The damage is reported, and nothing was deleted by the run's own repair.
    assert.ok(s.remote.files.has(key), 's.remote.files.has(key)')
    const warnings = s.sink.events.flatMap((e) => (e.event === 'task.warning' ? [e.message] : []))
    assert.ok(
      warnings.some((w) => /left for `backups check --repair`/.test(w)),
      warnings.join('\n'),
    )
  })

  it('a transfer of a delta over a base it did not accept fails with BASE_UNKNOWN, releases the lock and lists nothing new', async () => {
    const s = await setup(1)
    const [d0, d1] = s.last.disks
    assert.ok(d0 !== undefined && d1 !== undefined, 'd0 !== undefined && d1 !== undefined')
    const context = runContext(s.vm, t0 + DAY)
    const snapshot = s.vm.snapshot()
    await assert.rejects(
      s.inTask(async (task) => {
        await s.target.beforeBackup(context, task)
        const candidates = new Map([[newUuid(), d0.liveVdiUuid]])
        await s.target.checkBaseVdis?.(context, candidates, task)
        assert.equal(candidates.size, 0)
        await s.target.transfer?.(
          context,
          deltaExportOf(s.vm, snapshot, new Map([[d0.liveVdiUuid, d0]])),
          task,
        )
      }),
      (e: Error & { code?: string }) => e.code === 'BASE_UNKNOWN' && e.message.includes(d0.snapshotVdiUuid),
    )
    const lock = await s.remote.lock(vmDir(s.vm.uuid), { ttlMs: 1000 })
    await lock.release()
    const { backups } = await listVmBackups(s.remote, s.vm.uuid)
    assert.deepEqual(
      backups.map((b) => b.timestampMs),
      [t0],
    )
  })
})
