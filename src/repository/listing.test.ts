import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createFixedClock } from '../shared/clock.ts'
import { MemoryRemote } from '../remotes/testing/memory-remote.ts'
import { metadataPath, vmDir } from './layout.ts'
import { filesOf, listBackupVms, listVmBackups } from './listing.ts'
import type { BackupMetadata } from './metadata.ts'
import { deltaMetadata, fullMetadata, IDS } from './testing/sample-metadata.ts'

const day = 86_400_000
const t0 = Date.UTC(2026, 10, 1)

async function store(remote: MemoryRemote, metadata: BackupMetadata, withData = true): Promise<void> {
  if (withData)
    for (const file of filesOf(metadata, vmDir(IDS.vm))) await remote.write(file, Buffer.from('data'))
  if (withData && metadata.mode === 'full')
    await remote.write(`${filesOf(metadata, vmDir(IDS.vm))[0] ?? ''}.checksum`, Buffer.from('$1$$x'))
  await remote.write(metadataPath(IDS.vm, metadata.timestamp), Buffer.from(JSON.stringify(metadata)))
}

describe('listing backups', () => {
  it('lists full and delta backups oldest first, with their files and what is missing', async () => {
    const remote = new MemoryRemote()
    await store(remote, deltaMetadata(t0 + 2 * day))
    await store(remote, fullMetadata(t0))
    await store(remote, deltaMetadata(t0 + day, false), false)
    await remote.write(`${vmDir(IDS.vm)}/.20261101T000000Z.xva.tmp`, Buffer.from('partial'))
    const { backups, invalid } = await listVmBackups(remote, IDS.vm)
    assert.deepEqual(invalid, [])
    assert.deepEqual(
      backups.map((b) => [b.timestampMs, b.metadata.mode, b.missingFiles.length]),
      [
        [t0, 'full', 0],
        [t0 + day, 'delta', 2],
        [t0 + 2 * day, 'delta', 0],
      ],
    )
    assert.equal(backups[0]?.checksumFile, `${vmDir(IDS.vm)}/20261101T000000Z.xva.checksum`)
  })

  it('reads each metadata file once: later listings come from the cache until a file changes', async () => {
    const clock = createFixedClock(t0)
    const remote = new MemoryRemote({ clock })
    for (let i = 0; i < 50; i++) await store(remote, deltaMetadata(t0 + i * day))
    assert.equal((await listVmBackups(remote, IDS.vm)).metadataReads, 50)
    const cached = await listVmBackups(remote, IDS.vm)
    assert.equal(cached.metadataReads, 0)
    assert.equal(cached.backups.length, 50)

    clock.advance(1000)
    await store(remote, { ...deltaMetadata(t0 + 3 * day), size: 123 }, false)
    await remote.delete(metadataPath(IDS.vm, t0 + 4 * day))
    const after = await listVmBackups(remote, IDS.vm)
    assert.equal(after.metadataReads, 1, 'only the rewritten file is read')
    assert.equal(after.backups.length, 49)
    assert.equal(
      after.backups.find((b) => b.timestampMs === t0 + 3 * day)?.metadata.size,
      123,
      'the file wins over the cache',
    )
  })

  it('rebuilds from the files when the cache is corrupt', async () => {
    const remote = new MemoryRemote()
    await store(remote, fullMetadata(t0))
    await listVmBackups(remote, IDS.vm)
    await remote.write(`${vmDir(IDS.vm)}/cache.json.gz`, Buffer.from('not gzip'))
    const listed = await listVmBackups(remote, IDS.vm)
    assert.equal(listed.metadataReads, 1)
    assert.equal(listed.backups.length, 1)
  })

  it('reports bad metadata without hiding the good backups, and never follows hostile paths', async () => {
    const remote = new MemoryRemote()
    await store(remote, fullMetadata(t0))
    await remote.write(metadataPath(IDS.vm, t0 + day), Buffer.from('{"version":"2.0.0",'))
    await remote.write(
      metadataPath(IDS.vm, t0 + 2 * day),
      Buffer.from(JSON.stringify({ ...fullMetadata(t0 + 2 * day), xva: '../../secrets.xva' })),
    )
    const { backups, invalid } = await listVmBackups(remote, IDS.vm)
    assert.equal(backups.length, 1)
    assert.deepEqual(
      invalid.map((i) => [i.path.slice(-21), /not valid JSON|inside the VM folder/.test(i.message)]),
      [
        ['20261102T000000Z.json', true],
        ['20261103T000000Z.json', true],
      ],
    )
    assert.ok(
      [...remote.files.keys()].every((k) => k.startsWith('xo-vm-backups/')),
      'nothing written outside',
    )
  })

  it('lists the VMs with backups the way XO does (no hidden folders, no locks)', async () => {
    const remote = new MemoryRemote()
    await store(remote, fullMetadata(t0))
    await remote.write(`xo-vm-backups/.queue/clean-vm/x`, Buffer.from('x'))
    await remote.write(`xo-vm-backups/${IDS.vdiA}.lock/owner`, Buffer.from('x'))
    await remote.write(`xo-vm-backups/not-a-vm/x`, Buffer.from('x'))
    assert.deepEqual(await listBackupVms(remote), [IDS.vm])
    assert.deepEqual(await listBackupVms(new MemoryRemote()), [])
  })
})
