import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import type { MergeStore } from '../../formats/vhd/merge-store.ts'
import { assertSameBytes } from '../../formats/vhd/testing/random-disk.ts'
import { openLocalRemote } from '../../remotes/local/local-remote.ts'
import type { Remote } from '../../remotes/remote.ts'
import { MemoryRemote } from '../../remotes/testing/memory-remote.ts'
import { checkVmBackups } from '../../repository/check.ts'
import { vdiDir } from '../../repository/layout.ts'
import { createFixedClock } from '../../shared/clock.ts'
import type { Clock } from '../../shared/clock.ts'
import { MemorySink } from '../../tasks/sinks/memory-sink.ts'
import { runRootTask } from '../../tasks/task.ts'
import type { TaskTreeNode } from '../../tasks/tree.ts'
import { defaultSettings } from '../settings-schema.ts'
import { createRemoteTarget } from './remote-target.ts'
import { localRemoteStoreForTests } from './testing/local-store.ts'
import type { FakeSnapshot } from './testing/fake-vm.ts'
import { DAY, FakeVm, JOB_ID, MiB, readBackDeltas, runDelta } from './testing/fake-vm.ts'

const t0 = Date.UTC(2026, 10, 1, 22, 30)

/** Every task of a tree, depth first. */
function allTasks(node: TaskTreeNode): TaskTreeNode[] {
  return [node, ...node.tasks.flatMap(allTasks)]
}

async function countVhds(remote: Remote, vmUuid: string, live: string): Promise<number> {
  let n = 0
  for await (const entry of remote.list(vdiDir(vmUuid, JOB_ID, live))) if (entry.path.endsWith('.vhd')) n++
  return n
}

/**
 * Ten delta runs with exportRetention 3: after each, the kept backups are exactly the last three,
 * and each reads back (chain → raw) equal to what the VM held at that run.
 */
async function tenRuns(remote: Remote, clock: Clock, mergeStore: MergeStore | undefined) {
  const vm = new FakeVm(7, [4 * MiB, 3 * MiB])
  const target = createRemoteTarget({
    remote,
    remoteId: 'r1',
    settings: { ...defaultSettings(), exportRetention: 3 },
    mergeStore,
    clock,
  })
  const expected = new Map<number, Map<string, Uint8Array>>()
  const runs: { sink: MemorySink; snapshot: FakeSnapshot }[] = []
  let previous: FakeSnapshot | undefined
  for (let i = 0; i < 10; i++) {
    const ts = t0 + i * DAY
    const sink = new MemorySink()
    const snapshot = await runRootTask({ sink, clock }, { message: 'VM' }, (task) =>
      runDelta(target, vm, previous, ts, task),
    )
    previous = snapshot
    runs.push({ sink, snapshot })
    expected.set(ts, new Map(snapshot.disks.map((d) => [d.liveVdiUuid, d.content])))
    const stored = await readBackDeltas(remote, vm.uuid)
    const kept = [...expected.keys()].slice(-3)
    assert.deepEqual([...stored.keys()], kept, `run ${i}: the kept backups`)
    for (const [at, disks] of stored)
      for (const [live, bytes] of disks)
        assertSameBytes(
          bytes,
          expected.get(at)?.get(live) ?? new Uint8Array(),
          `run ${i}, backup ${at}, ${live}`,
        )
    // Each run after the first is a delta of every disk.
    const [root] = sink.trees({ final: true }).roots
    const exportTask = root?.tasks.find((t) => t.message === 'export')
    assert.equal(exportTask?.data?.isFull, i === 0, `run ${i}: isFull`)
    assert.equal(root?.status, 'success', `run ${i}: ${JSON.stringify(root)}`)
  }
  return { vm, runs }
}

describe('remote target: ten delta runs with exportRetention 3', () => {
  it('on a local remote with its merge store: expired deltas are merged, three VHDs per disk remain', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'remote-target-'))
    try {
      const clock = createFixedClock(t0)
      const remote = await openLocalRemote(dir, { clock })
      const { vm, runs } = await tenRuns(remote, clock, localRemoteStoreForTests(dir))
      for (const live of vm.liveVdiUuids) assert.equal(await countVhds(remote, vm.uuid, live), 3)
      const report = await checkVmBackups(remote, vm.uuid)
      assert.deepEqual(report.findings, [])
      // The merge task of the fourth run onwards merged something and says how much.
      for (const [i, { sink }] of runs.entries()) {
        const merge = sink
          .trees({ final: true })
          .roots.flatMap(allTasks)
          .find((t) => t.message === 'merge')
        assert.ok(merge !== undefined, 'merge !== undefined')
        assert.equal(merge.status, 'success')
        const size = (merge.result as { size?: number } | undefined)?.size ?? -1
        assert.ok(i < 3 ? size === 0 : size > 0, `run ${i}: merge size ${size}`)
        assert.deepEqual(merge.warnings, [], `run ${i}: no warning`)
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('on object storage (no merge store): the expired deltas wait, and the merge task says which and why', async () => {
    const clock = createFixedClock(t0)
    const remote = new MemoryRemote({ clock })
    const { vm, runs } = await tenRuns(remote, clock, undefined)
    // Nothing was merged: every VHD ever written is still there, as kept backups chain onto them.
    for (const live of vm.liveVdiUuids) assert.equal(await countVhds(remote, vm.uuid, live), 10)
    for (const [i, { sink }] of runs.entries()) {
      const merge = sink
        .trees({ final: true })
        .roots.flatMap(allTasks)
        .find((t) => t.message === 'merge')
      assert.ok(merge !== undefined, 'merge !== undefined')
      assert.deepEqual(merge.result, { size: 0 })
      const waiting = merge.warnings.find((w) => /wait for a merge/.test(w.message))
      if (i < 3) {
        assert.equal(waiting, undefined, `run ${i}`)
        continue
      }
      // Run i expired the backups 0..i-3: their disks (two per backup) are named, with the reason.
      assert.ok(waiting !== undefined, 'waiting !== undefined')
      assert.match(waiting.message, /cannot change files in place \(ADR 0005\)/)
      assert.equal(waiting.data?.reason, 'no-in-place-merge')
      const disks = waiting.data.disks as string[]
      assert.equal(disks.length, 2 * (i - 2), `run ${i}: ${JSON.stringify(disks)}`)
      for (const live of vm.liveVdiUuids)
        assert.equal(disks.filter((d) => d.includes(live)).length, i - 2, `run ${i}: disks of ${live}`)
    }
  })
})
