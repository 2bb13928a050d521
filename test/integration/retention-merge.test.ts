import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { localRemoteMergeStore } from '../../src/app/local-merge-store.ts'
import { chainToRaw } from '../../src/formats/vhd/conversions.ts'
import {
  assertSameBytes,
  bufferBlockSource,
  collect,
  createRandom,
  randomSparseDisk,
} from '../../src/formats/vhd/testing/random-disk.ts'
import { VhdChain } from '../../src/formats/vhd/vhd-chain.ts'
import { VhdFile } from '../../src/formats/vhd/vhd-file.ts'
import { openLocalRemote } from '../../src/remotes/local/local-remote.ts'
import type { Remote } from '../../src/remotes/remote.ts'
import { newUuid } from '../../src/shared/ids.ts'
import { checkVmBackups } from '../../src/repository/check.ts'
import type { DeltaBackupInput } from '../../src/repository/delta-writer.ts'
import { writeDeltaBackup } from '../../src/repository/delta-writer.ts'
import { vhdPath } from '../../src/repository/layout.ts'
import { listVmBackups } from '../../src/repository/listing.ts'
import { openRemoteFile } from '../../src/repository/remote-file.ts'
import { applyRetention } from '../../src/repository/retention-apply.ts'
import { planRetention } from '../../src/repository/retention.ts'
import { withVmLock } from '../../src/repository/vm-lock.ts'
import { deltaMetadata, IDS } from '../../src/repository/testing/sample-metadata.ts'
import { readAll } from '../../src/remotes/byte-streams.ts'

const MiB = 1024 * 1024
const day = 86_400_000
const t0 = Date.UTC(2026, 10, 1)
const input: DeltaBackupInput = (() => {
  const { jobId, scheduleId, vm, vmSnapshot, vbds, vdis, vifs } = deltaMetadata(t0)
  return { jobId, scheduleId, vm, vmSnapshot, vbds, vdis, vifs }
})()

let dir = ''
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'merge-'))
})
after(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** `days` daily backups of one growing disk (a key, then deltas); returns each day's raw content. */
async function dailyBackups(remote: Remote, days: number): Promise<Uint8Array[]> {
  const random = createRandom(days)
  let raw = randomSparseDisk(random, 8 * MiB, 4)
  const contents: Uint8Array[] = []
  for (let i = 0; i < days; i++) {
    let source = bufferBlockSource(raw)
    if (i > 0) {
      raw = Uint8Array.from(raw)
      const block = i % 4
      raw.fill(i, block * 2 * MiB + 4096, block * 2 * MiB + 8192)
      source = bufferBlockSource(raw, 2 * MiB, [block])
    }
    contents.push(raw)
    await writeDeltaBackup(remote, {
      metadata: { ...input, vdis: { 'OpaqueRef:vdi-a': input.vdis['OpaqueRef:vdi-a'] ?? {} }, vbds: {} },
      timestampMs: t0 + i * day,
      disks: [
        {
          vdiRef: 'OpaqueRef:vdi-a',
          vdiUuid: IDS.vdiA,
          source,
          uniqueId: newUuid(),
          ...(i === 0 ? {} : { parentTimestampMs: t0 + (i - 1) * day }),
        },
      ],
    })
  }
  return contents
}

async function readBackup(remote: Remote, i: number): Promise<Uint8Array> {
  const chain = await VhdChain.open(vhdPath(IDS.vm, IDS.job, IDS.vdiA, t0 + i * day), (p) =>
    openRemoteFile(remote, p),
  )
  try {
    return await collect(chainToRaw(chain))
  } finally {
    await chain.close()
  }
}

describe('retention with merges', () => {
  it('expiring the oldest backups folds them into the key: kept backups read the same, the oldest kept becomes the key', async () => {
    const root = join(dir, 'a')
    await import('node:fs/promises').then((fs) => fs.mkdir(root))
    const remote = await openLocalRemote(root)
    const contents = await dailyBackups(remote, 5)
    const uuidOf = async (i: number) =>
      (await VhdFile.open(await openRemoteFile(remote, vhdPath(IDS.vm, IDS.job, IDS.vdiA, t0 + i * day))))
        .uniqueId
    const keptUuid = await uuidOf(2)
    const { backups } = await listVmBackups(remote, IDS.vm)
    const plan = planRetention(
      backups.map((b) => ({ ...b, timestamp: b.timestampMs })),
      { minCount: 3 },
    )
    assert.deepEqual(
      plan.delete.map((b) => b.timestampMs),
      [t0, t0 + day],
    )

    const result = await withVmLock(remote, IDS.vm, (lock) =>
      applyRetention(remote, IDS.vm, plan.delete, { store: localRemoteMergeStore(root), lock }),
    )
    assert.equal(result.merge?.merges.length, 1)
    assert.deepEqual(result.deletedFiles, [])
    const listed = await listVmBackups(remote, IDS.vm)
    assert.deepEqual(
      listed.backups.map((b) => b.timestampMs),
      [t0 + 2 * day, t0 + 3 * day, t0 + 4 * day],
    )
    const key = listed.backups[0]
    assert.equal(
      key?.metadata.mode === 'delta' && key.metadata.isVhdDifferencing?.['OpaqueRef:vdi-a'],
      false,
      'the oldest kept backup is now a key',
    )
    assert.equal(await uuidOf(2), keptUuid, 'and keeps its VHD UUID, so its child still links to it')
    for (const i of [2, 3, 4])
      assertSameBytes(await readBackup(remote, i), contents[i] ?? new Uint8Array(), `backup ${i}`)
    assert.deepEqual((await checkVmBackups(remote, IDS.vm)).findings, [], 'nothing left to clean')
  })

  it('merges nothing while a metadata file is unreadable: its VHDs may look unreferenced', async () => {
    const root = join(dir, 'unreadable')
    await import('node:fs/promises').then((fs) => fs.mkdir(root))
    const remote = await openLocalRemote(root)
    const contents = await dailyBackups(remote, 4)
    const { backups } = await listVmBackups(remote, IDS.vm)
    // Backup 2's metadata becomes unreadable: its VHD (and 3's parent) now looks unreferenced.
    await remote.write(backups[2]?.id ?? '', Buffer.from('{ not json'))
    const result = await withVmLock(remote, IDS.vm, (lock) =>
      applyRetention(remote, IDS.vm, backups.slice(0, 2), { store: localRemoteMergeStore(root), lock }),
    )
    assert.equal(result.merge?.merges.length, 0)
    assert.deepEqual(result.merge.skipped, [backups[2]?.id])
    assertSameBytes(await readBackup(remote, 2), contents[2] ?? new Uint8Array(), 'backup 2 still reads')
    assertSameBytes(await readBackup(remote, 3), contents[3] ?? new Uint8Array(), 'backup 3 still reads')
  })

  it('deletes no unused-looking disk while a metadata file is unreadable: it may be that backup', async () => {
    const root = join(dir, 'unreadable-newest')
    await import('node:fs/promises').then((fs) => fs.mkdir(root))
    const remote = await openLocalRemote(root)
    const contents = await dailyBackups(remote, 4)
    const { backups } = await listVmBackups(remote, IDS.vm)
    // The newest metadata becomes unreadable (a passing read error, a bad write): its VHD, a leaf
    // nothing else references, looks like an orphan.
    const newest = backups[3]?.id ?? ''
    const saved = await readAll(remote, newest)
    await remote.write(newest, Buffer.from('{ not json'))
    const result = await withVmLock(remote, IDS.vm, (lock) =>
      applyRetention(remote, IDS.vm, backups.slice(0, 1), { store: localRemoteMergeStore(root), lock }),
    )
    assert.deepEqual(result.deletedFiles, [])
    assert.match(result.orphansKept ?? '', /unreadable-metadata.*backups check --repair/)
    await remote.write(newest, saved) // the read error passes
    assertSameBytes(await readBackup(remote, 3), contents[3] ?? new Uint8Array(), 'backup 3 still reads')
  })

  it('merges at most maxMergedDeltasPerRun deltas per run, and the next run finishes', async () => {
    const root = join(dir, 'b')
    await import('node:fs/promises').then((fs) => fs.mkdir(root))
    const remote = await openLocalRemote(root)
    const contents = await dailyBackups(remote, 6)
    const { backups } = await listVmBackups(remote, IDS.vm)
    const expired = backups.slice(0, 4)
    const store = localRemoteMergeStore(root)
    const first = await applyRetention(remote, IDS.vm, expired, { store, maxMergedDeltasPerRun: 2 })
    assert.equal(
      first.merge?.merges[0]?.path.endsWith('20261103T000000Z.vhd'),
      true,
      'two deltas folded, into the third file',
    )
    // Left for the next run: the merged file (now named after the third backup) and the fourth.
    assert.deepEqual(
      (await checkVmBackups(remote, IDS.vm)).findings.map((f) => [f.kind, f.path.slice(-20)]),
      [
        ['unmerged-ancestor', '20261103T000000Z.vhd'],
        ['unmerged-ancestor', '20261104T000000Z.vhd'],
      ],
    )
    await applyRetention(remote, IDS.vm, [], { store, maxMergedDeltasPerRun: 2 })
    assert.deepEqual((await checkVmBackups(remote, IDS.vm)).findings, [])
    for (const i of [4, 5])
      assertSameBytes(await readBackup(remote, i), contents[i] ?? new Uint8Array(), `backup ${i}`)
  })

  it('without a merge store, expired deltas that kept backups need are kept', async () => {
    const root = join(dir, 'c')
    await import('node:fs/promises').then((fs) => fs.mkdir(root))
    const remote = await openLocalRemote(root)
    const contents = await dailyBackups(remote, 3)
    const { backups } = await listVmBackups(remote, IDS.vm)
    const result = await applyRetention(remote, IDS.vm, backups.slice(0, 1))
    assert.equal(result.merge, undefined)
    assert.deepEqual(result.deletedFiles, [])
    assertSameBytes(await readBackup(remote, 2), contents[2] ?? new Uint8Array())
  })
})
