import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { bufferBlockSource, createRandom, randomSparseDisk } from '../formats/vhd/testing/random-disk.ts'
import { MemoryRemote } from '../remotes/testing/memory-remote.ts'
import { newUuid } from '../shared/ids.ts'
import { writeFullBackup } from './backup-writer.ts'
import type { CheckReport, FindingKind } from './check.ts'
import { checkVmBackups, repairVmBackups } from './check.ts'
import type { DeltaBackupInput } from './delta-writer.ts'
import { writeDeltaBackup } from './delta-writer.ts'
import { metadataPath, vhdPath, vmDir, xvaPath } from './layout.ts'
import { listVmBackups } from './listing.ts'
import { deltaMetadata, fullMetadata, IDS } from './testing/sample-metadata.ts'

const MiB = 1024 * 1024
const day = 86_400_000
const t0 = Date.UTC(2026, 10, 1)
const delta: DeltaBackupInput = (() => {
  const { jobId, scheduleId, vm, vmSnapshot, vbds, vdis, vifs } = deltaMetadata(t0)
  return { jobId, scheduleId, vm, vmSnapshot, vbds, vdis, vifs }
})()

/** A chain of `count` daily delta backups of two disks (the first a key), plus one full backup. */
async function repository(count: number): Promise<MemoryRemote> {
  const remote = new MemoryRemote()
  const random = createRandom(42)
  for (let i = 0; i < count; i++) {
    const disks = ['OpaqueRef:vdi-a', 'OpaqueRef:vdi-b'].map((vdiRef, k) => {
      const raw = randomSparseDisk(random, 4 * MiB, 2)
      return {
        vdiRef,
        vdiUuid: k === 0 ? IDS.vdiA : IDS.vdiB,
        source: bufferBlockSource(raw),
        uniqueId: newUuid(),
        ...(i === 0 ? {} : { parentTimestampMs: t0 + (i - 1) * day }),
      }
    })
    await writeDeltaBackup(remote, { metadata: delta, timestampMs: t0 + i * day, disks })
  }
  const { jobId, scheduleId, vm, vmSnapshot } = fullMetadata(t0)
  async function* xva() {
    yield await Promise.resolve(new Uint8Array(1024).fill(7))
  }
  await writeFullBackup(remote, {
    metadata: { jobId, scheduleId, vm, vmSnapshot },
    timestampMs: t0 + 100 * day,
    xva: xva(),
  })
  return remote
}

const kinds = (report: CheckReport): [FindingKind, string][] =>
  report.findings.map((f) => [f.kind, f.path.slice(vmDir(IDS.vm).length + 1)])
const vhdA = (i: number): string => vhdPath(IDS.vm, IDS.job, IDS.vdiA, t0 + i * day)
const vhdB = (i: number): string => vhdPath(IDS.vm, IDS.job, IDS.vdiB, t0 + i * day)
const rel = (path: string): string => path.slice(vmDir(IDS.vm).length + 1)

describe('check & repair', () => {
  it('finds nothing in a healthy repository', async () => {
    const report = await checkVmBackups(await repository(3), IDS.vm)
    assert.deepEqual(report.findings, [])
    assert.equal(report.completeBackups.length, 4)
  })

  it('an incomplete backup (a disk missing) loses its metadata; its other disk is then an orphan', async () => {
    const remote = await repository(3)
    await remote.delete(vhdA(2))
    const report = await checkVmBackups(remote, IDS.vm)
    assert.deepEqual(kinds(report), [
      ['incomplete-backup', '20261103T000000Z.json'],
      ['orphan-vhd', rel(vhdB(2))],
    ])
    const { deleted } = await repairVmBackups(remote, report)
    assert.deepEqual(deleted.map(rel), ['20261103T000000Z.json', rel(vhdB(2))])
    assert.deepEqual((await checkVmBackups(remote, IDS.vm)).findings, [], 'consistent after repair')
    assert.equal((await listVmBackups(remote, IDS.vm)).backups.length, 3)
  })

  it('never deletes an unreferenced ancestor a kept backup needs: it is reported for merging', async () => {
    const remote = await repository(3)
    await remote.delete(metadataPath(IDS.vm, t0)) // the key backup expired; its VHDs are ancestors
    const report = await checkVmBackups(remote, IDS.vm)
    assert.deepEqual(kinds(report), [
      ['unmerged-ancestor', rel(vhdA(0))],
      ['unmerged-ancestor', rel(vhdB(0))],
    ])
    assert.deepEqual((await repairVmBackups(remote, report)).deleted, [])
    assert.ok(report.protectedPaths.includes(vhdA(0)), 'report.protectedPaths.includes(vhdA(0))')
  })

  it('a damaged key breaks every backup above it; the damage is reported, the chain removed', async () => {
    const remote = await repository(2)
    const file = remote.files.get(vhdA(0))
    assert.ok(file, 'file')
    for (const at of [file.data.length - 400, 100]) file.data.writeUInt8(file.data.readUInt8(at) ^ 0xff, at) // both footers
    const report = await checkVmBackups(remote, IDS.vm)
    assert.deepEqual(
      kinds(report).map(([k]) => k),
      ['incomplete-backup', 'incomplete-backup', 'broken-vhd', 'broken-vhd', 'orphan-vhd', 'orphan-vhd'],
    )
    assert.match(report.findings[1]?.message ?? '', /parent .* is unusable/)
    await repairVmBackups(remote, report)
    const listed = await listVmBackups(remote, IDS.vm)
    assert.deepEqual(
      listed.backups.map((b) => b.metadata.mode),
      ['full'],
      'only the full backup survives',
    )
  })

  it('cleans root orphans and temp files, keeps unknown files', async () => {
    const remote = await repository(1)
    await remote.delete(metadataPath(IDS.vm, t0 + 100 * day))
    await remote.write(`${vmDir(IDS.vm)}/.20261101T000000Z.xva.a1b2c3.tmp`, Buffer.from('partial'))
    await remote.write(`${vmDir(IDS.vm)}/notes.txt`, Buffer.from('mine'))
    const report = await checkVmBackups(remote, IDS.vm)
    assert.deepEqual(kinds(report).sort(), [
      ['orphan-file', '20270209T000000Z.xva'],
      ['orphan-file', '20270209T000000Z.xva.checksum'],
      ['temp-file', '.20261101T000000Z.xva.a1b2c3.tmp'],
      ['unknown-file', 'notes.txt'],
    ])
    await repairVmBackups(remote, report)
    assert.equal(remote.files.has(xvaPath(IDS.vm, t0 + 100 * day)), false)
    assert.equal(remote.files.has(`${vmDir(IDS.vm)}/notes.txt`), true)
  })

  it('deletes nothing that hostile or unreadable metadata might reference', async () => {
    const remote = await repository(2)
    await remote.write(metadataPath(IDS.vm, t0 + 50 * day), Buffer.from('{"version":"2.0.0","mode":"delta",'))
    await remote.write(
      metadataPath(IDS.vm, t0 + 51 * day),
      Buffer.from(JSON.stringify({ ...fullMetadata(t0 + 51 * day), xva: '../../../etc/passwd' })),
    )
    await remote.delete(metadataPath(IDS.vm, t0 + day)) // its VHDs are now orphans, but may be another's
    const before = new Set(remote.files.keys())
    const report = await checkVmBackups(remote, IDS.vm)
    assert.deepEqual(
      kinds(report).map(([k]) => k),
      ['unreadable-metadata', 'unreadable-metadata', 'orphan-vhd', 'orphan-vhd'],
    )
    assert.match(report.findings[2]?.message ?? '', /kept: some metadata is unreadable/)
    assert.deepEqual((await repairVmBackups(remote, report)).deleted, [])
    assert.deepEqual(new Set(remote.files.keys()), before)
  })

  it("rewrites a delta backup's stale size, and only that", async () => {
    const remote = await repository(2)
    const path = metadataPath(IDS.vm, t0 + day)
    const stale = JSON.parse(remote.files.get(path)?.data.toString() ?? '{}') as Record<string, unknown>
    await remote.write(path, Buffer.from(JSON.stringify({ ...stale, size: 1 })))
    const report = await checkVmBackups(remote, IDS.vm)
    assert.deepEqual(kinds(report), [['size-mismatch', '20261102T000000Z.json']])
    assert.equal(report.findings[0]?.setSize, stale.size)
    await repairVmBackups(remote, report)
    assert.deepEqual((await checkVmBackups(remote, IDS.vm)).findings, [])
    assert.deepEqual(JSON.parse(remote.files.get(path)?.data.toString() ?? '{}'), stale)
  })

  it('reports an XVA whose size differs from its metadata, and a missing checksum', async () => {
    const remote = await repository(1)
    const xva = xvaPath(IDS.vm, t0 + 100 * day)
    await remote.write(xva, new Uint8Array(10))
    await remote.delete(`${xva}.checksum`)
    assert.deepEqual(kinds(await checkVmBackups(remote, IDS.vm)), [
      ['size-mismatch', rel(xva)],
      ['missing-checksum', `${rel(xva)}.checksum`],
    ])
  })
})
