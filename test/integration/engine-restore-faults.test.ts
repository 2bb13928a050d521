// Restores that fail (issue 11 §2): a broken chain (missing parent, UUID mismatch, truncated VHD),
// a remote read failing mid-import, an SR that does not exist, SR_BACKEND_FAILURE_44, a session
// that expires mid-import, an import cut mid-stream, an XVA whose checksum does not match, an
// abort. Each must fail with an error naming the object, leave the pool exactly as it was (VMs,
// VDIs, VBDs, VIFs, tasks), and leave every file of the remote unchanged.
import assert from 'node:assert/strict'
import { copyFile, cp, mkdtemp, readdir, rm, truncate, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { after, afterEach, before, describe, it } from 'node:test'
import { runBackupFromFile } from '../../src/app/run-backup.ts'
import { restoreBackup, restoreTaskProperties } from '../../src/engine/restore/restore-backup.ts'
import type { RestoreFixture } from '../../src/engine/restore/testing/restore-fixture.ts'
import { digestFolder, startRestoreFixture } from '../../src/engine/restore/testing/restore-fixture.ts'
import { openLocalRemote } from '../../src/remotes/local/local-remote.ts'
import type { Remote } from '../../src/remotes/remote.ts'
import { FaultRemote } from '../../src/remotes/testing/fault-remote.ts'
import type { BackupListing } from '../../src/repository/listing.ts'
import { listVmBackups } from '../../src/repository/listing.ts'
import { MemorySink } from '../../src/tasks/sinks/memory-sink.ts'
import { runRootTask } from '../../src/tasks/task.ts'
import type { TaskTreeNode } from '../../src/tasks/tree.ts'
import type { XapiClient } from '../../src/xapi/types.ts'
import type { ReadOptions } from '../../src/remotes/remote.ts'

type Failure = Error & { code?: string; cause?: unknown }

/** The messages of an error and of its causes, joined (what a user reads, cause included). */
function messages(error: unknown): string {
  const out: string[] = []
  for (let e = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) out.push(e.message)
  return out.join(' <- ')
}

/**
 * `remote` whose reads call `hook` once, when a read that `matches` has delivered `afterBytes`
 * bytes and `ready()` says so: a point of an import where the VM and its disks exist and the
 * upload is under way (a block of a chain is read while its VHD stream is sent; the XVA is read
 * while it is sent).
 */
function hookReads(
  remote: Remote,
  matches: (options: ReadOptions | undefined) => boolean,
  afterBytes: number,
  hook: () => void,
  ready: () => boolean = () => true,
): Remote {
  let fired = false
  async function* counted(stream: Readable): AsyncGenerator<Uint8Array> {
    let read = 0
    for await (const chunk of stream) {
      const bytes = chunk as Uint8Array
      read += bytes.byteLength
      if (!fired && read >= afterBytes && ready()) {
        fired = true
        hook()
      }
      yield bytes
    }
  }
  return new Proxy(remote, {
    get(target, property) {
      // No held-open fast path: every read must pass through the hook.
      if (property === 'openReader') return undefined
      if (property === 'read')
        return async (path: string, options?: ReadOptions) => {
          const stream = await target.read(path, options)
          return matches(options) ? Readable.from(counted(stream)) : stream
        }
      const value: unknown = Reflect.get(target, property, target)
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
    },
  })
}

/** A ranged read of a whole VHD block (2 MiB), not a head, footer or BAT read. */
const blockRead = (options: ReadOptions | undefined): boolean =>
  options?.start !== undefined && options.end !== undefined && options.end - options.start >= 1024 * 1024
/** A read of a whole file (the XVA). */
const wholeFile = (options: ReadOptions | undefined): boolean => options?.start === undefined

describe('restore faults: a clear error, nothing left on the pool, the backup untouched', () => {
  let f: RestoreFixture
  let scratch: string
  let copies = 0
  let delta: BackupListing
  let full: BackupListing
  before(async () => {
    f = await startRestoreFixture(runBackupFromFile)
    // A chain of three (key, delta, delta) and one full backup.
    for (let run = 1; run <= 3; run++) {
      if (run > 1) f.sim.guestWrite(f.vmRef('web'), { seed: 200 + run, changedFraction: 0.3 })
      await f.runJob('delta')
    }
    await f.runJob('full')
    scratch = await mkdtemp(join(tmpdir(), 'restore-faults-'))
    const newest = (await f.backups('web')).at(-1)
    const xva = (await f.backups('app')).at(-1)
    assert.ok(newest !== undefined && xva !== undefined, 'a delta and a full backup')
    delta = newest
    full = xva
  })
  after(async () => {
    await f.close()
    await rm(scratch, { recursive: true, force: true })
  })
  // A fault a test armed but did not trigger must not fire in the next one.
  afterEach(() => {
    f.sim.faults.reset()
  })

  /** Everything of the pool a restore could leave behind. */
  const snapshotPool = (): Record<string, readonly string[]> => ({
    ...f.poolObjects(),
    task: f.sim.db
      .all('task')
      .map(([ref]) => ref)
      .sort(),
  })

  /** A copy of the remote this test may damage, with its listed backups of `vm`. */
  async function copyRemote(): Promise<{ dir: string; remote: Remote }> {
    const dir = join(scratch, `copy-${++copies}`)
    await cp(f.remoteDir, dir, { recursive: true })
    return { dir, remote: await openLocalRemote(dir) }
  }

  async function newest(remote: Remote, vm: 'web' | 'app'): Promise<BackupListing> {
    const backup = (await listVmBackups(remote, f.vmUuid(vm), { useCache: false })).backups.at(-1)
    assert.ok(backup !== undefined, `a backup of ${vm}`)
    return backup
  }

  /** The VHDs of the chain of the first disk of `backup` in `dir`, oldest (the key) first. */
  async function chainFiles(dir: string, backup: BackupListing): Promise<string[]> {
    const [top] = backup.files
    assert.ok(top !== undefined, 'a disk')
    const folder = top.slice(0, top.lastIndexOf('/'))
    const names = (await readdir(join(dir, folder))).filter((n) => n.endsWith('.vhd')).sort()
    assert.equal(names.length, 3, 'key, delta, delta')
    return names.map((n) => join(dir, folder, n))
  }

  interface Attempt {
    readonly backup: BackupListing
    readonly remote?: Remote
    /** The folder of `remote` when it is a copy (its files must not change either). */
    readonly remoteDir?: string
    readonly xapi?: XapiClient
    readonly srRef?: string
    readonly mapVdiSrs?: ReadonlyMap<string, string | null>
    readonly signal?: AbortSignal
  }

  /** Runs a restore that must fail; checks the pool and the remotes; returns the error and the tree. */
  async function failing(options: Attempt): Promise<{ error: Failure; tree: TaskTreeNode | undefined }> {
    const pool = snapshotPool()
    const digests = await f.remoteDigests()
    const copy = options.remoteDir === undefined ? undefined : await digestFolder(options.remoteDir)
    const sink = new MemorySink()
    const error = await runRootTask(
      { sink, clock: f.clock },
      restoreTaskProperties(options.backup, 'sr'),
      (task) =>
        restoreBackup(
          {
            xapi: options.xapi ?? f.xapi,
            remote: options.remote ?? f.remote,
            backup: options.backup,
            srRef: options.srRef ?? f.srRef('Local'),
            clock: f.clock,
            ...(options.mapVdiSrs === undefined ? {} : { mapVdiSrs: options.mapVdiSrs }),
            ...(options.signal === undefined ? {} : { signal: options.signal }),
          },
          task,
        ),
    ).then(
      () => assert.fail('the restore should have failed'),
      (e: unknown) => e as Failure,
    )
    assert.deepEqual(snapshotPool(), pool, `nothing left on the pool after: ${messages(error)}`)
    assert.deepEqual(await f.remoteDigests(), digests, 'the remote is unchanged')
    if (options.remoteDir !== undefined)
      assert.deepEqual(await digestFolder(options.remoteDir), copy, 'the damaged copy is unchanged too')
    const tree = sink.trees().roots[0]
    assert.equal(tree?.status, 'failure', 'the restore task failed')
    return { error, tree }
  }

  it('a missing parent VHD: refused before anything is made, naming the file', async () => {
    const { dir, remote } = await copyRemote()
    const backup = await newest(remote, 'web')
    const [, parent] = await chainFiles(dir, backup)
    await unlink(parent ?? '')
    const { error } = await failing({ backup, remote, remoteDir: dir })
    assert.equal(error.code, 'RESTORE_BACKUP_UNUSABLE', messages(error))
    assert.ok(error.message.startsWith(`${backup.id}: disk `), error.message)
    assert.match(error.message, /VHD_PARENT_MISSING|readable parent/, error.message)
  })

  it('a parent whose UUID is not the one its child names: refused (VHD_PARENT_MISMATCH)', async () => {
    const { dir, remote } = await copyRemote()
    const backup = await newest(remote, 'web')
    const [key, parent] = await chainFiles(dir, backup)
    await copyFile(key ?? '', parent ?? '')
    const { error } = await failing({ backup, remote, remoteDir: dir })
    assert.equal(error.code, 'RESTORE_BACKUP_UNUSABLE', messages(error))
    assert.equal((error.cause as Failure).code, 'VHD_PARENT_MISMATCH', messages(error))
  })

  it('a truncated key VHD: refused, naming the file', async () => {
    const { dir, remote } = await copyRemote()
    const backup = await newest(remote, 'web')
    const [key] = await chainFiles(dir, backup)
    await truncate(key ?? '', 3 * 1024 * 1024)
    const { error } = await failing({ backup, remote, remoteDir: dir })
    assert.equal(error.code, 'RESTORE_BACKUP_UNUSABLE', messages(error))
    assert.ok(messages(error).includes(key?.slice(dir.length + 1) ?? '?'), messages(error))
  })

  it('a remote read failing mid-import: the VM and disks made so far are destroyed', async () => {
    // Opening a chain reads heads (256 KiB) and footers; the first 2 MiB block read fails.
    const remote = new FaultRemote(f.remote, { cutReadAfterBytes: 300_000 })
    const { error } = await failing({ backup: delta, remote })
    assert.equal(error.code, 'RESTORE_BACKUP_UNUSABLE', messages(error))
    assert.ok(error.message.startsWith(`${delta.id}: disk `), error.message)
  })

  it('an SR that does not exist: the VM made first is destroyed, the error names the SR', async () => {
    const { error } = await failing({
      backup: delta,
      srRef: 'OpaqueRef:00000000-0000-4000-8000-000000000000',
    })
    assert.equal(error.code, 'RESTORE_IMPORT_FAILED', messages(error))
    assert.match(
      error.message,
      /on SR OpaqueRef:00000000-0000-4000-8000-000000000000 failed: VDI.create: HANDLE_INVALID/,
    )
    const fullError = (
      await failing({ backup: full, srRef: 'OpaqueRef:00000000-0000-4000-8000-000000000000' })
    ).error
    assert.match(messages(fullError), /SR OpaqueRef:00000000-0000-4000-8000-000000000000/)
  })

  it('SR_BACKEND_FAILURE_44 on the second disk: the first disk, its VBD and the VM are destroyed', async () => {
    f.sim.faults.failCall('VDI.create', {
      nth: 2,
      code: 'SR_BACKEND_FAILURE_44',
      params: ['', 'There is insufficient space', ''],
    })
    const { error } = await failing({ backup: delta })
    assert.equal(error.code, 'RESTORE_IMPORT_FAILED', messages(error))
    assert.match(error.message, /creating the VDI of disk .* failed: VDI.create: SR_BACKEND_FAILURE_44/)
  })

  it('SR_BACKEND_FAILURE_44 at the end of an XVA import: the imported VM is found and destroyed', async () => {
    f.sim.faults.failTaskAtEnd('/import', { code: 'SR_BACKEND_FAILURE_44', params: ['', 'no space', ''] })
    const { error } = await failing({ backup: full })
    assert.equal(error.code, 'RESTORE_IMPORT_FAILED', messages(error))
    assert.match(messages(error), /SR_BACKEND_FAILURE_44/)
  })

  it('an import cut mid-stream (delta and full): a clear error naming the VDI or the SR', async () => {
    f.sim.faults.cutStream('/import_raw_vdi', 100_000)
    const { error } = await failing({ backup: delta })
    assert.equal(error.code, 'RESTORE_IMPORT_FAILED', messages(error))
    assert.match(error.message, /^disk [0-9a-f-]+ "web system": import of a disk into VDI OpaqueRef:/)
    f.sim.faults.cutStream('/import', 100_000)
    const fullError = (await failing({ backup: full })).error
    assert.equal(fullError.code, 'RESTORE_IMPORT_FAILED', messages(fullError))
    assert.match(fullError.message, /^import of an XVA onto SR OpaqueRef:/)
  })

  it('the session expires while the import is cut (a toolstack restart): logged in again, the import undone', async () => {
    // The upload dies with the session, as when XAPI restarts: the client must log in again to
    // see the task's failure and to destroy what the import made.
    f.sim.faults.cutStream('/import_raw_vdi', 1024 * 1024)
    const remote = hookReads(f.remote, blockRead, 1, () => {
      f.sim.faults.expireSessions()
    })
    const { error } = await failing({ backup: delta, remote })
    assert.equal(error.code, 'RESTORE_IMPORT_FAILED', messages(error))
    assert.match(error.message, /^disk [0-9a-f-]+ "web system": import of a disk into VDI OpaqueRef:/)
  })

  it('a session that expires mid-import is logged in again: the restore succeeds', async () => {
    const remote = hookReads(f.remote, blockRead, 1, () => {
      f.sim.faults.expireSessions()
    })
    const sink = new MemorySink()
    const restored = await runRootTask({ sink, clock: f.clock }, restoreTaskProperties(delta, 'sr'), (task) =>
      restoreBackup({ xapi: f.xapi, remote, backup: delta, srRef: f.srRef('Local'), clock: f.clock }, task),
    )
    const digests = new Map<string, string>()
    for (const vbd of f.sim.db.get('VM', restored.vmRef).VBDs as string[]) {
      const record = f.sim.db.get('VBD', vbd)
      digests.set(record.userdevice as string, await f.sim.storage.digest(record.VDI as string))
    }
    assert.deepEqual(digests, f.expected.get(delta.metadata.timestamp))
  })

  it('an abort mid-import (delta and full): the abort is rethrown and everything made is destroyed', async () => {
    // The full import is aborted once XAPI is writing its disk, and at its very first byte, when
    // XAPI may not have read the request yet: its task, which no handler then ends, must not stay.
    const importing = (): boolean =>
      f.sim.db.all('task').some(([, t]) => t.name_label === 'VM import' && (t.progress as number) > 0)
    for (const [backup, matches, ready] of [
      [delta, blockRead, () => true],
      [full, wholeFile, importing],
      [full, wholeFile, () => true],
    ] as const) {
      const controller = new AbortController()
      const remote = hookReads(
        f.remote,
        matches,
        1,
        () => {
          controller.abort()
        },
        ready,
      )
      const { error } = await failing({ backup, remote, signal: controller.signal })
      assert.equal(error.name, 'AbortError', `${backup.metadata.mode}: ${messages(error)}`)
    }
  })

  it('an XVA whose checksum file does not match: the imported VM is destroyed (CHECKSUM_MISMATCH)', async () => {
    const { dir, remote } = await copyRemote()
    const backup = await newest(remote, 'app')
    assert.ok(backup.checksumFile !== undefined, 'a checksum file')
    await writeFile(join(dir, backup.checksumFile), '$1$$00000000000000000000000000000000')
    const { error } = await failing({ backup, remote, remoteDir: dir })
    assert.equal(error.code, 'CHECKSUM_MISMATCH', messages(error))
  })

  it('a full backup with an SR map, a map naming no disk: refused before anything is made', async () => {
    const other = f.srRef('Other')
    const { error } = await failing({ backup: full, mapVdiSrs: new Map([[f.vmUuid('app'), other]]) })
    assert.equal(error.code, 'RESTORE_UNSUPPORTED', messages(error))
    const unknown = '99999999-1111-4222-8333-444444444444'
    const { error: mapError } = await failing({ backup: delta, mapVdiSrs: new Map([[unknown, other]]) })
    assert.equal(mapError.code, 'RESTORE_INVALID', messages(mapError))
    assert.ok(mapError.message.startsWith(`disk ${unknown}: not a disk of this backup`), mapError.message)
  })
})
