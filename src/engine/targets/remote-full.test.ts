import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { assertSameBytes, collect } from '../../formats/vhd/testing/random-disk.ts'
import { MemoryRemote } from '../../remotes/testing/memory-remote.ts'
import { metadataPath, xvaPath } from '../../repository/layout.ts'
import { listVmBackups } from '../../repository/listing.ts'
import { readFullBackupXva } from '../../repository/read-backup.ts'
import { createFixedClock } from '../../shared/clock.ts'
import { MemorySink } from '../../tasks/sinks/memory-sink.ts'
import type { Task } from '../../tasks/task.ts'
import { runRootTask } from '../../tasks/task.ts'
import type { TaskTreeNode } from '../../tasks/tree.ts'
import type { VmBackupSettings } from '../settings-schema.ts'
import { defaultSettings } from '../settings-schema.ts'
import { createRemoteTarget } from './remote-target.ts'
import { DAY, FakeVm, MiB, recordingRemote, runFullBackup, xvaStream } from './testing/fake-vm.ts'

const HOUR = 3_600_000
const t0 = Date.UTC(2026, 0, 5, 20) // a Monday, 20:00 UTC

function setup(settings: Partial<VmBackupSettings>) {
  const clock = createFixedClock(t0)
  const memory = new MemoryRemote({ clock })
  const log: string[] = []
  const remote = recordingRemote(memory, log)
  const target = createRemoteTarget({
    remote,
    remoteId: 'r1',
    settings: { ...defaultSettings(), ...settings },
    clock,
  })
  const vm = new FakeVm(1, [2 * MiB])
  const sink = new MemorySink()
  const inTask = (fn: (task: Task) => Promise<void>) => runRootTask({ sink, clock }, { message: 'VM' }, fn)
  const backup = (at: number, seed = at) =>
    inTask((task) => runFullBackup(target, vm, at, xvaStream(seed % 251).stream, task))
  const kept = async () => (await listVmBackups(memory, vm.uuid)).backups.map((b) => b.timestampMs)
  return { clock, memory, remote, log, target, vm, sink, inTask, backup, kept }
}

/** The children of the last `export` task, as `message` names. */
function exportSteps(sink: MemorySink): TaskTreeNode[] {
  const roots = sink.trees({ final: true }).roots
  const exportTask = roots.at(-1)?.tasks.find((t) => t.message === 'export')
  return exportTask?.tasks ?? []
}

describe('remote target: full backups', () => {
  it('writes the XVA, its checksum and the metadata; transfer reports the size, then clean runs', async () => {
    const s = setup({ exportRetention: 2 })
    const xva = xvaStream(9)
    await s.inTask((task) => runFullBackup(s.target, s.vm, t0, xva.stream, task))
    const [backup] = (await listVmBackups(s.memory, s.vm.uuid)).backups
    assert.ok(backup, 'backup')
    assertSameBytes(await collect(await readFullBackupXva(s.memory, backup)), xva.bytes)
    const steps = exportSteps(s.sink)
    assert.deepEqual(
      steps.map((t) => [t.message, t.status, t.result]),
      [
        ['transfer', 'success', { size: xva.bytes.length }],
        ['clean', 'success', undefined],
      ],
    )
    // Data first, checksum next, metadata last.
    assert.deepEqual(
      s.log
        .filter((l) => l.startsWith('write xo-vm-backups/') && !l.endsWith('cache.json.gz'))
        .map((l) => l.slice(l.lastIndexOf('.'))),
      ['.xva', '.checksum', '.json'],
    )
  })

  it('keeps exportRetention backups of the schedule; the expired lose metadata, XVA and checksum', async () => {
    const s = setup({ exportRetention: 2 })
    for (let i = 0; i < 4; i++) await s.backup(t0 + i * DAY)
    assert.deepEqual(await s.kept(), [t0 + 2 * DAY, t0 + 3 * DAY])
    const names = [...s.memory.files.keys()].filter((p) => p.includes('/2026010'))
    for (const i of [0, 1]) assert.ok(!names.some((p) => p.includes(`2026010${5 + i}T`)), names.join('\n'))
  })

  it('deleteFirst deletes the expired backup before the new XVA is written; without it, after the metadata', async () => {
    for (const deleteFirst of [true, false]) {
      const s = setup({ exportRetention: 1, deleteFirst })
      await s.backup(t0)
      s.log.length = 0
      await s.backup(t0 + DAY)
      const deleted = s.log.indexOf(`delete ${metadataPath(s.vm.uuid, t0)}`)
      const xva = s.log.indexOf(`write ${xvaPath(s.vm.uuid, t0 + DAY)}`)
      const metadata = s.log.indexOf(`write ${metadataPath(s.vm.uuid, t0 + DAY)}`)
      assert.ok(deleted >= 0 && xva >= 0 && metadata >= 0, s.log.join('\n'))
      if (deleteFirst) assert.ok(deleted < xva, s.log.join('\n'))
      else assert.ok(metadata < deleted, s.log.join('\n'))
      assert.deepEqual(
        exportSteps(s.sink).map((t) => t.message),
        deleteFirst ? ['clean', 'transfer'] : ['transfer', 'clean'],
      )
      assert.deepEqual(await s.kept(), [t0 + DAY])
    }
  })

  it('long-term retention: weekly buckets counted in the timezone, this run taking a slot', async () => {
    // Daily backups at 23:30 UTC (Monday first) for three weeks, weeks starting on Monday
    // (firstDayOfWeek 1), three weekly slots, plus the two newest by count.
    const times = Array.from({ length: 21 }, (_, i) => t0 + 3.5 * HOUR + i * DAY)
    const keptIn = async (timezone: string) => {
      const s = setup({
        exportRetention: 2,
        longTermRetention: { weekly: { retention: 3, settings: { firstDayOfWeek: 1 } } },
        timezone,
      })
      for (const at of times) await s.backup(at)
      return (await s.kept()).map((at) => times.indexOf(at))
    }
    // UTC: weeks hold backups 0–6, 7–13, 14–20; the oldest of each is kept.
    assert.deepEqual(await keptIn('UTC'), [0, 7, 14, 19, 20])
    // Tokyo (UTC+9): each backup is the next morning, so weeks hold 0–5, 6–12, 13–19 and 20 (this
    // last run's week takes one of the three slots): the first week falls out.
    assert.deepEqual(await keptIn('Asia/Tokyo'), [6, 13, 19, 20])
  })

  it('a backup whose metadata exists is not written again, and its stream is not read', async () => {
    const s = setup({ exportRetention: 3 })
    await s.backup(t0)
    const before = new Map([...s.memory.files].map(([p, f]) => [p, f.data]))
    const [written] = (await listVmBackups(s.memory, s.vm.uuid)).backups
    const snapshot = written?.metadata.vmSnapshot.uuid ?? ''
    const again = xvaStream(77)
    await s.inTask((task) => runFullBackup(s.target, s.vm, t0, again.stream, task, snapshot))
    assert.equal(again.read(), false)
    assert.deepEqual(new Map([...s.memory.files].map(([p, f]) => [p, f.data])), before)
    const transfer = exportSteps(s.sink).find((t) => t.message === 'transfer')
    assert.ok(transfer !== undefined, 'transfer !== undefined')
    assert.deepEqual(transfer.result, { size: 0 })
    assert.match(transfer.infos[0]?.message ?? '', /on the remote already/)
  })

  it('metadata of another snapshot at the same second: BACKUP_EXISTS, nothing read or changed', async () => {
    const s = setup({ exportRetention: 3 })
    await s.backup(t0)
    const before = new Map([...s.memory.files].map(([p, f]) => [p, f.data]))
    const other = xvaStream(78)
    await assert.rejects(
      s.inTask((task) => runFullBackup(s.target, s.vm, t0, other.stream, task)),
      (error: Error & { code?: string }) =>
        error.code === 'BACKUP_EXISTS' && /exists already, of snapshot .*nothing written/.test(error.message),
    )
    assert.equal(other.read(), false)
    assert.deepEqual(new Map([...s.memory.files].map(([p, f]) => [p, f.data])), before)
  })
})
