import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import type { MergeStore } from '../../formats/vhd/merge-store.ts'
import { assertSameBytes } from '../../formats/vhd/testing/random-disk.ts'
import { openLocalRemote } from '../../remotes/local/local-remote.ts'
import type { Remote } from '../../remotes/remote.ts'
import { MemoryRemote } from '../../remotes/testing/memory-remote.ts'
import { metadataPath, vdiDir } from '../../repository/layout.ts'
import type { FixedClock } from '../../shared/clock.ts'
import { createFixedClock } from '../../shared/clock.ts'
import { MemorySink } from '../../tasks/sinks/memory-sink.ts'
import { runRootTask } from '../../tasks/task.ts'
import type { VmBackupSettings } from '../settings-schema.ts'
import { defaultSettings } from '../settings-schema.ts'
import { mergeAndClean } from './remote-merge.ts'
import { createRemoteTarget } from './remote-target.ts'
import type { FakeSnapshot } from './testing/fake-vm.ts'
import { DAY, FakeVm, JOB_ID, MiB, readBackDeltas, runDelta } from './testing/fake-vm.ts'
import { localRemoteStoreForTests } from './testing/local-store.ts'

const t0 = Date.UTC(2026, 3, 1, 2)

async function withLocal(fn: (dir: string, remote: Remote, clock: FixedClock) => Promise<void>) {
  const dir = await mkdtemp(join(tmpdir(), 'remote-merge-'))
  try {
    const clock = createFixedClock(t0)
    await fn(dir, await openLocalRemote(dir, { clock }), clock)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** `n` delta runs; after each, every listed backup reads back as the VM was then. */
async function runs(
  remote: Remote,
  clock: FixedClock,
  store: MergeStore | undefined,
  settings: Partial<VmBackupSettings>,
  n: number,
  vm = new FakeVm(11, [4 * MiB, 2 * MiB]),
) {
  const target = createRemoteTarget({
    remote,
    remoteId: 'r1',
    settings: { ...defaultSettings(), ...settings },
    mergeStore: store,
    clock,
  })
  const expected = new Map<number, Map<string, Uint8Array>>()
  const sinks: MemorySink[] = []
  let previous: FakeSnapshot | undefined
  for (let i = 0; i < n; i++) {
    const sink = new MemorySink()
    sinks.push(sink)
    const at = t0 + i * DAY
    const prior = previous
    previous = await runRootTask({ sink, clock }, { message: 'VM' }, (task) =>
      runDelta(target, vm, prior, at, task),
    )
    expected.set(at, new Map(previous.disks.map((d) => [d.liveVdiUuid, d.content])))
    for (const [ts, disks] of await readBackDeltas(remote, vm.uuid))
      for (const [live, bytes] of disks)
        assertSameBytes(
          bytes,
          expected.get(ts)?.get(live) ?? new Uint8Array(),
          `run ${i}: backup ${ts} ${live}`,
        )
  }
  return { vm, expected, sinks, last: previous }
}

async function vhdCount(remote: Remote, vm: FakeVm): Promise<number> {
  let n = 0
  for (const live of vm.liveVdiUuids)
    for await (const e of remote.list(vdiDir(vm.uuid, JOB_ID, live))) if (e.path.endsWith('.vhd')) n++
  return n
}

describe('remote target: merges', () => {
  it('exportRetention 1 with deleteFirst: each delta chains onto a VHD whose metadata is gone, then the merge folds it', async () => {
    await withLocal(async (dir, remote, clock) => {
      const { vm } = await runs(
        remote,
        clock,
        localRemoteStoreForTests(dir),
        { exportRetention: 1, deleteFirst: true },
        4,
      )
      assert.equal(await vhdCount(remote, vm), 2, 'one VHD per disk')
    })
    const clock = createFixedClock(t0)
    const memory = new MemoryRemote({ clock })
    const { vm, sinks } = await runs(memory, clock, undefined, { exportRetention: 1, deleteFirst: true }, 4)
    assert.equal(await vhdCount(memory, vm), 8, 'object storage keeps every VHD: all are chained')
    const warnings =
      sinks.at(-1)?.events.flatMap((e) => (e.event === 'task.warning' ? [e.message] : [])) ?? []
    assert.ok(
      warnings.some((w) => /6 disk\(s\) of expired delta backups wait for a merge/.test(w)),
      warnings.join('\n'),
    )
  })

  it('merges nothing while a metadata file is unreadable: its disks would look unreferenced', async () => {
    await withLocal(async (dir, remote, clock) => {
      const store = localRemoteStoreForTests(dir)
      const vm = new FakeVm(12, [4 * MiB, 2 * MiB])
      const first = await runs(remote, clock, store, { exportRetention: 5 }, 3, vm)
      // The second backup's metadata becomes unreadable (a torn copy, a flaky NFS read…).
      const damaged = join(dir, metadataPath(vm.uuid, t0 + DAY))
      const original = await readFile(damaged)
      await writeFile(damaged, original.subarray(0, 40))
      // A delta run with exportRetention 1 expires the first and third backups (the second is not
      // listed): its chain runs through all three, which a merge would fold into it.
      const sink = new MemorySink()
      const target = createRemoteTarget({
        remote,
        remoteId: 'r1',
        settings: { ...defaultSettings(), exportRetention: 1 },
        mergeStore: store,
        clock,
      })
      await runRootTask({ sink, clock }, { message: 'VM' }, (task) =>
        runDelta(target, vm, first.last, t0 + 3 * DAY, task),
      )
      // Once the file reads again, the second backup is whole: none of its chain was merged away.
      await writeFile(damaged, original)
      const stored = await readBackDeltas(remote, vm.uuid)
      const second = stored.get(t0 + DAY)
      assert.ok(second !== undefined, `listed: ${[...stored.keys()].join(', ')}`)
      for (const [live, bytes] of second)
        assertSameBytes(bytes, first.expected.get(t0 + DAY)?.get(live) ?? new Uint8Array(), live)
      const warnings = sink.events.flatMap((e) => (e.event === 'task.warning' ? [e.message] : []))
      assert.ok(
        warnings.some((w) => /merges wait/.test(w)),
        warnings.join('\n'),
      )
    })
  })
  it('finishes the metadata rewrite of a merge cut just before it (stale size and isVhdDifferencing)', async () => {
    await withLocal(async (dir, remote, clock) => {
      const store = localRemoteStoreForTests(dir)
      const vm = new FakeVm(13, [4 * MiB, 2 * MiB])
      await runs(remote, clock, store, { exportRetention: 5 }, 2, vm)
      // The key's metadata as a merge leaves it when cut before reconcileMetadata: it still
      // describes the delta that became this key (differencing disks, the delta's size).
      const keyPath = join(dir, metadataPath(vm.uuid, t0))
      const key = JSON.parse(await readFile(keyPath, 'utf8')) as {
        size: number
        isVhdDifferencing: Record<string, boolean>
      }
      const refs = Object.keys(key.isVhdDifferencing)
      assert.ok(refs.length === 2, `the key has two disks: ${JSON.stringify(key.isVhdDifferencing)}`)
      await writeFile(
        keyPath,
        JSON.stringify({
          ...key,
          size: key.size - 512,
          isVhdDifferencing: Object.fromEntries(refs.map((r) => [r, true])),
        }),
      )
      await runRootTask({ sink: new MemorySink(), clock }, { message: 'merge' }, (task) =>
        mergeAndClean(remote, vm.uuid, { store, maxMergedDeltasPerRun: 2 }, task),
      )
      const after = JSON.parse(await readFile(keyPath, 'utf8')) as typeof key
      assert.deepEqual(after.isVhdDifferencing, key.isVhdDifferencing, 'isVhdDifferencing rewritten')
      assert.equal(after.size, key.size, 'size rewritten')
    })
  })

  it('checks a folder with nothing to merge once', async () => {
    await withLocal(async (dir, remote, clock) => {
      const store = localRemoteStoreForTests(dir)
      const vm = new FakeVm(14, [4 * MiB])
      await runs(remote, clock, store, { exportRetention: 5 }, 2, vm)
      let walks = 0
      const counting: Remote = Object.create(remote, {
        list: {
          value: (path: string, options?: { recursive?: boolean }) => {
            if (options?.recursive === true) walks++
            return remote.list(path, options)
          },
        },
      }) as Remote
      await runRootTask({ sink: new MemorySink(), clock }, { message: 'merge' }, (task) =>
        mergeAndClean(counting, vm.uuid, { store, maxMergedDeltasPerRun: 2 }, task),
      )
      assert.equal(walks, 1, 'one recursive listing of the VM folder (one check)')
    })
  })
})
