import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { chainToRaw } from '../formats/vhd/conversions.ts'
import { requireOracle, readChainWithPyvhdi } from '../formats/vhd/testing/oracles.ts'
import {
  assertSameBytes,
  bufferBlockSource,
  collect,
  createRandom,
  randomSparseDisk,
} from '../formats/vhd/testing/random-disk.ts'
import { VhdChain } from '../formats/vhd/vhd-chain.ts'
import { openLocalRemote } from '../remotes/local/local-remote.ts'
import type { Remote } from '../remotes/remote.ts'
import { MemoryRemote } from '../remotes/testing/memory-remote.ts'
import { newUuid } from '../shared/ids.ts'
import type { DeltaBackupInput } from './delta-writer.ts'
import { writeDeltaBackup } from './delta-writer.ts'
import { metadataPath, vhdPath } from './layout.ts'
import { listVmBackups } from './listing.ts'
import { openRemoteFile } from './remote-file.ts'
import { deltaMetadata, IDS } from './testing/sample-metadata.ts'

const MiB = 1024 * 1024
const t0 = Date.UTC(2026, 10, 27)
const t1 = t0 + 86_400_000
const base: DeltaBackupInput = (() => {
  const { jobId, scheduleId, vm, vmSnapshot, vbds, vdis, vifs } = deltaMetadata(t0)
  return { jobId, scheduleId, vm, vmSnapshot, vbds, vdis, vifs }
})()

/** A disk, and the same disk after a guest wrote a few extents, as raw bytes and a delta source. */
function diskPair(seed: number, size: number) {
  const random = createRandom(seed)
  const before = randomSparseDisk(random, size, 6)
  const after = Uint8Array.from(before)
  after.set(new Uint8Array(3000).fill(seed), MiB + 17 * 512)
  after.set(new Uint8Array(512).fill(0xee), size - 512)
  const changed = [
    ...new Set([Math.floor((MiB + 17 * 512) / (2 * MiB)), Math.floor((size - 512) / (2 * MiB))]),
  ].sort((a, b) => a - b)
  return { before, after, delta: bufferBlockSource(after, 2 * MiB, changed) }
}

async function backupTwice(remote: Remote) {
  const a = diskPair(1, 6 * MiB)
  const b = diskPair(2, 5 * MiB + 512)
  await writeDeltaBackup(remote, {
    metadata: base,
    timestampMs: t0,
    disks: [
      {
        vdiRef: 'OpaqueRef:vdi-a',
        vdiUuid: IDS.vdiA,
        source: bufferBlockSource(a.before),
        uniqueId: newUuid(),
      },
      {
        vdiRef: 'OpaqueRef:vdi-b',
        vdiUuid: IDS.vdiB,
        source: bufferBlockSource(b.before),
        uniqueId: newUuid(),
      },
    ],
  })
  await writeDeltaBackup(remote, {
    metadata: base,
    timestampMs: t1,
    disks: [
      {
        vdiRef: 'OpaqueRef:vdi-a',
        vdiUuid: IDS.vdiA,
        source: a.delta,
        uniqueId: newUuid(),
        parentTimestampMs: t0,
      },
      {
        vdiRef: 'OpaqueRef:vdi-b',
        vdiUuid: IDS.vdiB,
        source: b.delta,
        uniqueId: newUuid(),
        parentTimestampMs: t0,
      },
    ],
  })
  return { a, b }
}

describe('writeDeltaBackup', () => {
  it('writes a key then a chained delta that reads back as the new disk content', async () => {
    const remote = new MemoryRemote()
    const { a, b } = await backupTwice(remote)
    const { backups } = await listVmBackups(remote, IDS.vm)
    assert.deepEqual(
      backups.map((x) => [
        x.timestampMs,
        x.metadata.mode === 'delta' && x.metadata.isVhdDifferencing,
        x.missingFiles.length,
      ]),
      [
        [t0, { 'OpaqueRef:vdi-a': false, 'OpaqueRef:vdi-b': false }, 0],
        [t1, { 'OpaqueRef:vdi-a': true, 'OpaqueRef:vdi-b': true }, 0],
      ],
    )
    for (const [vdi, pair] of [
      [IDS.vdiA, a],
      [IDS.vdiB, b],
    ] as const) {
      const chain = await VhdChain.open(vhdPath(IDS.vm, IDS.job, vdi, t1), (path) =>
        openRemoteFile(remote, path),
      )
      assert.equal(chain.disks.length, 2)
      assertSameBytes(await collect(chainToRaw(chain)), pair.after, vdi)
    }
  })

  it('chains that libvhdi reads byte-exact from a local remote', async (t) => {
    if (!requireOracle(t, 'pyvhdi')) return
    const dir = await mkdtemp(join(tmpdir(), 'delta-'))
    try {
      const { a } = await backupTwice(await openLocalRemote(dir))
      const out = join(dir, 'a.raw')
      readChainWithPyvhdi(
        [
          join(dir, vhdPath(IDS.vm, IDS.job, IDS.vdiA, t1)),
          join(dir, vhdPath(IDS.vm, IDS.job, IDS.vdiA, t0)),
        ],
        out,
      )
      assertSameBytes(await readFile(out), a.after)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('refuses a delta whose parent is missing or not a VHD, and leaves nothing behind', async () => {
    const remote = new MemoryRemote()
    const { delta } = diskPair(3, 4 * MiB)
    const attempt = () =>
      writeDeltaBackup(remote, {
        metadata: base,
        timestampMs: t1,
        disks: [
          {
            vdiRef: 'OpaqueRef:vdi-a',
            vdiUuid: IDS.vdiA,
            source: delta,
            uniqueId: newUuid(),
            parentTimestampMs: t0,
          },
        ],
      })
    await assert.rejects(
      attempt(),
      (e: Error & { code?: string }) =>
        e.code === 'PARENT_MISSING' && /20261127T000000Z\.vhd is missing/.test(e.message),
    )
    await remote.write(vhdPath(IDS.vm, IDS.job, IDS.vdiA, t0), new Uint8Array(4096).fill(1))
    await assert.rejects(
      attempt(),
      (e: Error & { code?: string }) =>
        e.code === 'PARENT_MISMATCH' && /no valid VHD footer: .*footer\.cookie/.test(e.message),
    )
    assert.deepEqual(
      [...remote.files.keys()],
      [vhdPath(IDS.vm, IDS.job, IDS.vdiA, t0)],
      'only the planted file remains',
    )
  })

  it('removes the disks it wrote when a later disk fails; no metadata is written', async () => {
    const remote = new MemoryRemote()
    const { before } = diskPair(4, 4 * MiB)
    const failing = {
      ...bufferBlockSource(before),
      async *blocks() {
        yield await Promise.resolve({ index: 0, data: before.subarray(0, 2 * MiB) })
        throw new Error('export_raw_vdi connection reset')
      },
    }
    await assert.rejects(
      writeDeltaBackup(remote, {
        metadata: base,
        timestampMs: t0,
        disks: [
          {
            vdiRef: 'OpaqueRef:vdi-a',
            vdiUuid: IDS.vdiA,
            source: bufferBlockSource(before),
            uniqueId: newUuid(),
          },
          { vdiRef: 'OpaqueRef:vdi-b', vdiUuid: IDS.vdiB, source: failing, uniqueId: newUuid() },
        ],
      }),
      /connection reset/,
    )
    assert.equal(remote.files.size, 0)
    assert.equal(remote.files.has(metadataPath(IDS.vm, t0)), false)
  })

  it('writes up to `concurrency` disks at once and, when one fails, removes the others once they stop', async () => {
    const remote = new MemoryRemote()
    const { before } = diskPair(5, 4 * MiB)
    let inFlight = 0
    let maxInFlight = 0
    // Each disk yields one block, then gives the other disk a few event-loop turns to start (a
    // sequential writer never starts it: maxInFlight stays 1 and the test fails instead of hanging).
    const bothStarted = async () => {
      for (let turn = 0; turn < 100 && inFlight < 2; turn++)
        await new Promise<void>((resolve) => setImmediate(resolve))
    }
    const gated = (fail: boolean) => ({
      ...bufferBlockSource(before),
      async *blocks() {
        inFlight++
        maxInFlight = Math.max(maxInFlight, inFlight)
        yield { index: 0, data: before.subarray(0, 2 * MiB) }
        await bothStarted()
        if (fail) throw new Error('export_raw_vdi connection reset')
        yield { index: 1, data: before.subarray(2 * MiB, 4 * MiB) }
        inFlight--
      },
    })
    const disks = (failB: boolean) => [
      { vdiRef: 'OpaqueRef:vdi-a', vdiUuid: IDS.vdiA, source: gated(false), uniqueId: newUuid() },
      { vdiRef: 'OpaqueRef:vdi-b', vdiUuid: IDS.vdiB, source: gated(failB), uniqueId: newUuid() },
    ]
    const written = await writeDeltaBackup(remote, {
      metadata: base,
      timestampMs: t0,
      disks: disks(false),
      concurrency: 2,
    })
    assert.equal(maxInFlight, 2)
    const { backups } = await listVmBackups(remote, IDS.vm)
    assert.deepEqual(Object.keys(backups[0]?.metadata.mode === 'delta' ? backups[0].metadata.vhds : {}), [
      'OpaqueRef:vdi-a',
      'OpaqueRef:vdi-b',
    ])
    assert.equal(written.sizeBytes, backups[0]?.metadata.size)
    inFlight = 0
    await assert.rejects(
      writeDeltaBackup(remote, { metadata: base, timestampMs: t1, disks: disks(true), concurrency: 2 }),
      /connection reset/,
    )
    assert.deepEqual(
      [...remote.files.keys()].filter((p) => p.includes('20261128')),
      [],
      'nothing of the failed backup remains',
    )
  })
})
