// Hostile repositories (issue 11 §2): metadata whose `vhds` path leaves the VM folder (relative
// climb, absolute path, into another VM's folder) and a VHD whose parent locator climbs out of it.
// The restore refuses each before anything is made on the pool, names the path, reads nothing
// outside the VM folder, and a canary VHD outside it survives unchanged.
import assert from 'node:assert/strict'
import { copyFile, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runBackupFromFile } from '../../src/app/run-backup.ts'
import { restoreBackup, restoreTaskProperties } from '../../src/engine/restore/restore-backup.ts'
import type { RestoreFixture } from '../../src/engine/restore/testing/restore-fixture.ts'
import { digestFolder, startRestoreFixture } from '../../src/engine/restore/testing/restore-fixture.ts'
import { LocalFile } from '../../src/formats/vhd/random-access-file.ts'
import { VhdFile } from '../../src/formats/vhd/vhd-file.ts'
import { planVhdStream } from '../../src/formats/vhd/vhd-stream-writer.ts'
import { openLocalRemote } from '../../src/remotes/local/local-remote.ts'
import type { Remote } from '../../src/remotes/remote.ts'
import type { BackupListing } from '../../src/repository/listing.ts'
import { listVmBackups } from '../../src/repository/listing.ts'
import type { DeltaBackupMetadata } from '../../src/repository/metadata.ts'
import { MemorySink } from '../../src/tasks/sinks/memory-sink.ts'
import { runRootTask } from '../../src/tasks/task.ts'

type Failure = Error & { code?: string; cause?: unknown }

describe('hostile repositories: paths leaving the VM folder are refused', () => {
  let f: RestoreFixture
  let scratch: string
  let copy: string
  let remote: Remote
  let backup: BackupListing
  let metadata: DeltaBackupMetadata
  let canaryUuid: string
  const outside = (): string => join(scratch, 'canary.vhd')
  before(async () => {
    f = await startRestoreFixture(runBackupFromFile)
    await f.runJob('delta')
    scratch = await mkdtemp(join(tmpdir(), 'restore-hostile-'))
    copy = join(scratch, 'remote')
    await cp(f.remoteDir, copy, { recursive: true })
    remote = await openLocalRemote(copy)
    const listed = (await listVmBackups(remote, f.vmUuid('web'), { useCache: false })).backups[0]
    assert.ok(listed?.metadata.mode === 'delta', 'a delta backup')
    backup = listed
    metadata = listed.metadata
    // Canaries: a valid VHD (a copy of a key of the backup) at the remote's root, in another VM's
    // folder, and outside the remote: a restore that followed a hostile path would read them.
    const [key] = listed.files
    assert.ok(key !== undefined, 'a key VHD')
    await copyFile(join(copy, key), join(copy, 'canary.vhd'))
    await mkdir(join(copy, 'xo-vm-backups/00000000-0000-4000-8000-000000000000'), { recursive: true })
    await copyFile(
      join(copy, key),
      join(copy, 'xo-vm-backups/00000000-0000-4000-8000-000000000000/canary.vhd'),
    )
    await copyFile(join(copy, key), outside())
    const file = await LocalFile.open(outside())
    canaryUuid = (await VhdFile.open(file)).uniqueId
    await file.close()
  })
  after(async () => {
    await f.close()
    await rm(scratch, { recursive: true, force: true })
  })

  /** `remote`, recording the path of every read, stat and held-open reader. */
  function recording(paths: string[]): Remote {
    return new Proxy(remote, {
      get(target, property) {
        const value: unknown = Reflect.get(target, property, target)
        if (typeof value !== 'function') return value
        const fn = (value as (...args: unknown[]) => unknown).bind(target)
        if (property !== 'read' && property !== 'stat' && property !== 'openReader') return fn
        return (path: string, ...rest: unknown[]) => {
          paths.push(path)
          return fn(path, ...rest)
        }
      },
    })
  }

  async function refused(hostile: BackupListing): Promise<Failure> {
    const pool = f.poolObjects()
    const before = await digestFolder(scratch)
    const touched: string[] = []
    const error = await runRootTask(
      { sink: new MemorySink() },
      restoreTaskProperties(hostile, 'sr'),
      (task) =>
        restoreBackup(
          { xapi: f.xapi, remote: recording(touched), backup: hostile, srRef: f.srRef('Local') },
          task,
        ),
    ).then(
      () => assert.fail('a hostile backup was restored'),
      (e: unknown) => e as Failure,
    )
    assert.deepEqual(f.poolObjects(), pool, 'nothing made on the pool')
    assert.deepEqual(await digestFolder(scratch), before, 'the canaries and the repository are unchanged')
    const vmFolder = `xo-vm-backups/${f.vmUuid('web')}/`
    assert.deepEqual(
      touched.filter((p) => !p.startsWith(vmFolder) || p.includes('..')),
      [],
      'nothing read outside the VM folder',
    )
    return error
  }

  const withVhds = (path: string): BackupListing => {
    const [ref] = Object.keys(metadata.vhds)
    assert.ok(ref !== undefined, 'a disk')
    return { ...backup, metadata: { ...metadata, vhds: { ...metadata.vhds, [ref]: path } } }
  }

  for (const path of [
    '../../canary.vhd',
    '../00000000-0000-4000-8000-000000000000/canary.vhd',
    'vdis/../../../canary.vhd',
    '/etc/passwd',
    `${'../'.repeat(20)}${'x'.repeat(10)}/canary.vhd`,
  ])
    it(`metadata naming ${JSON.stringify(path.slice(0, 40))} as a disk: refused, nothing read`, async () => {
      const error = await refused(withVhds(path))
      assert.equal(error.code, 'RESTORE_BACKUP_UNUSABLE', error.message)
      const cause = error.cause as Failure
      assert.ok(
        cause.code === 'PATH_ESCAPE' || cause.code === 'PATH_INVALID',
        `${cause.code}: ${cause.message}`,
      )
      assert.match(error.message, /expected a path inside the VM folder/)
    })

  it('the listing itself reports such metadata as invalid instead of listing it', async () => {
    const hostile = join(copy, 'xo-vm-backups', f.vmUuid('web'), '20300101T000000Z.json')
    const text = JSON.parse(await readFile(join(copy, backup.id), 'utf8')) as Record<string, unknown>
    const [ref] = Object.keys(metadata.vhds)
    await writeFile(
      hostile,
      JSON.stringify({ ...text, timestamp: Date.UTC(2030, 0, 1), vhds: { [ref ?? '']: '../../canary.vhd' } }),
    )
    try {
      const { backups, invalid } = await listVmBackups(remote, f.vmUuid('web'), { useCache: false })
      assert.deepEqual(
        backups.map((b) => b.id),
        [backup.id],
      )
      assert.equal(invalid.length, 1)
      assert.match(invalid[0]?.message ?? '', /vhds\..*expected a path inside the VM folder/)
    } finally {
      await rm(hostile)
    }
  })

  it('a delta VHD whose parent locator climbs out of the VM folder: refused, the canary not opened', async () => {
    // A differencing VHD over the canary (right UUID, so only the path stops it), in the chain folder.
    const [ref] = Object.keys(metadata.vhds)
    const [top] = backup.files
    assert.ok(ref !== undefined && top !== undefined, 'a disk')
    const vhd = planVhdStream(
      {
        virtualSize: 2 * 1024 * 1024,
        blockSize: 2 * 1024 * 1024,
        blockIndexes: [],
        blocks: async function* () {},
      },
      {
        uniqueId: '12345678-1234-4234-8234-123456789abc',
        timestampMs: Date.UTC(2030, 0, 1),
        parent: { uniqueId: canaryUuid, relativePath: `${'../'.repeat(6)}canary.vhd` },
      },
    )
    const chunks: Uint8Array[] = []
    for await (const chunk of vhd.chunks()) chunks.push(chunk)
    const hostilePath = join(dirname(top), '20300101T000000Z.vhd')
    await writeFile(join(copy, hostilePath), Buffer.concat(chunks))
    try {
      const relative = hostilePath.slice(`xo-vm-backups/${f.vmUuid('web')}/`.length)
      const error = await refused(withVhds(relative))
      assert.equal(error.code, 'RESTORE_BACKUP_UNUSABLE', error.message)
      assert.ok(error.message.includes(hostilePath), error.message)
      assert.match(error.message, /PATH_ESCAPE|resolves outside/)
    } finally {
      await rm(join(copy, hostilePath))
    }
  })
})
