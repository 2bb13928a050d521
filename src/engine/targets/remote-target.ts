// The Writer API on a remote (backup-target.ts; xen-orchestra-backups.md §7, the seed's "Writer
// API"): full backups as XVAs, delta backups as VHD chains, retention with long-term buckets, and
// merges where the remote has in-place files (ADR 0005). The VM run passes the VM task to
// beforeBackup/checkBaseVdis/afterBackup and the `export` task to the others, which open the seed's
// steps under it: `transfer` ({size}), then `clean` (full) or `merge` ({size}, delta).
import type { MergeStore } from '../../formats/vhd/merge-store.ts'
import { isRemoteError } from '../../remotes/remote-error.ts'
import type { Remote } from '../../remotes/remote.ts'
import { writeFullBackup } from '../../repository/backup-writer.ts'
import { checkVmBackups } from '../../repository/check.ts'
import type { DeltaDiskInput } from '../../repository/delta-writer.ts'
import { writeDeltaBackup } from '../../repository/delta-writer.ts'
import { metadataPath } from '../../repository/layout.ts'
import { listVmBackups } from '../../repository/listing.ts'
import { readMetadataFile } from '../../repository/read-file.ts'
import { resumeInterruptedMerges } from '../../repository/merge.ts'
import { acquireVmLock } from '../../repository/vm-lock.ts'
import type { Clock } from '../../shared/clock.ts'
import type { Task } from '../../tasks/task.ts'
import type {
  BackupTarget,
  DeltaExport,
  HealthCheckInput,
  TransferResult,
  VmRunContext,
} from '../backup-target.ts'
import { healthCheckVm } from '../health-check/vm-health-check.ts'
import { restoreBackup } from '../restore/restore-backup.ts'
import type { VmBackupSettings } from '../settings-schema.ts'
import { HeldLock } from './held-lock.ts'
import type { ChainParent } from './remote-base.ts'
import { findChainParent } from './remote-base.ts'
import { mergeAndClean } from './remote-merge.ts'
import { repairUnattended } from './remote-repair.ts'
import { deleteBackups, expiredBackups } from './remote-retention.ts'
import { checkDeltaExport } from './delta-export-check.ts'
import { TargetError } from './target-error.ts'

/** What createRemoteTarget needs. */
export interface RemoteTargetOptions {
  readonly remote: Remote
  /** The remote's id in the run description (the `export` task's `data.id`). */
  readonly remoteId: string
  /** This target's effective settings for the VM (job → schedule → VM → remote). */
  readonly settings: VmBackupSettings
  /** In-place access to the remote's files for merges; undefined for object storage (ADR 0005). */
  readonly mergeStore?: MergeStore | undefined
  readonly clock: Clock
}

/**
 * A BackupTarget (kind 'remote') writing one VM's backups to `remote` in XO's layout, for one VM
 * run at a time; throws TARGET_INVALID when `exportRetention` is below 1 (XO creates no remote
 * writer then, and a target must keep at least the backup it writes).
 */
export function createRemoteTarget(options: RemoteTargetOptions): BackupTarget {
  const retention = options.settings.exportRetention
  if (!Number.isInteger(retention) || retention < 1)
    throw new TargetError(
      'TARGET_INVALID',
      `remote ${options.remoteId}: exportRetention: expected an integer >= 1, got ${JSON.stringify(retention)}`,
    )
  return new RemoteTarget(options)
}

async function exists(remote: Remote, path: string): Promise<boolean> {
  try {
    await remote.stat(path)
    return true
  } catch (error) {
    if (isRemoteError(error, 'NOT_FOUND')) return false
    throw error
  }
}

/**
 * Whether the backup of `snapshotUuid` at `id` is on the remote already (a run resumed or replayed:
 * not written twice). Metadata at that path from another snapshot is refused: the backup's name
 * has a one-second resolution, and skipping would mark a snapshot exported whose blocks the remote
 * never received, so the next delta would chain onto the wrong content.
 */
async function alreadyWritten(remote: Remote, id: string, snapshotUuid: string): Promise<boolean> {
  if (!(await exists(remote, id))) return false
  const existing = (await readMetadataFile(remote, id)).vmSnapshot.uuid
  if (existing === snapshotUuid) return true
  throw new TargetError(
    'BACKUP_EXISTS',
    `${id}: a backup with this timestamp exists already, of snapshot ${String(existing)}; this run's snapshot ${snapshotUuid} is another one (two runs in the same second?): nothing written`,
  )
}

const sizeResult = (r: TransferResult) => ({ size: r.sizeBytes })

class RemoteTarget implements BackupTarget {
  readonly kind = 'remote'
  readonly id: string
  readonly settings: VmBackupSettings
  readonly #remote: Remote
  readonly #store: MergeStore | undefined
  readonly #clock: Clock
  #lock: HeldLock | undefined
  /** Per live VDI uuid, the VHD its delta chains onto (accepted by checkBaseVdis). */
  readonly #parents = new Map<string, ChainParent>()
  /** Delta backups deleted in this run: together at most maxMergedDeltasPerRun. */
  #deletions = 0

  constructor(options: RemoteTargetOptions) {
    this.id = options.remoteId
    this.settings = options.settings
    this.#remote = options.remote
    this.#store = options.mergeStore
    this.#clock = options.clock
  }

  async beforeBackup(context: VmRunContext, task: Task): Promise<void> {
    if (this.#lock !== undefined)
      throw new TargetError(
        'TARGET_STATE',
        `remote ${this.id}: beforeBackup called while a run holds the lock`,
      )
    const vmUuid = context.vm.uuid
    const handle = await acquireVmLock(this.#remote, vmUuid, {
      clock: this.#clock,
      signal: task.signal,
      onWait: (error) => {
        task.info(`remote ${this.id}: waiting for the VM lock (a crashed run's lease runs out)`, {
          error: String(error),
        })
      },
    })
    this.#lock = new HeldLock(handle, vmUuid)
    this.#parents.clear()
    this.#deletions = 0
    await this.#locked(context, task, async () => {
      // A merge cut by a crash leaves a chain that does not link up until it is finished.
      if (this.#store !== undefined) await resumeInterruptedMerges(this.#remote, this.#store, vmUuid, task)
      await repairUnattended(this.#remote, await checkVmBackups(this.#remote, vmUuid), task)
    })
  }

  async checkBaseVdis(context: VmRunContext, candidates: Map<string, string>, task: Task): Promise<void> {
    await this.#locked(context, task, async () => {
      const { backups } = await listVmBackups(this.#remote, context.vm.uuid, {}, task)
      const completeVhds = new Set(
        backups
          .filter(
            (b) =>
              b.metadata.mode === 'delta' &&
              b.metadata.jobId === context.job.id &&
              b.missingFiles.length === 0,
          )
          .flatMap((b) => b.files),
      )
      const where = { vmUuid: context.vm.uuid, jobId: context.job.id }
      for (const [baseVdiUuid, liveVdiUuid] of candidates) {
        const verdict = await findChainParent(this.#remote, where, liveVdiUuid, baseVdiUuid, completeVhds)
        if ('reason' in verdict) {
          candidates.delete(baseVdiUuid)
          task.info(`remote ${this.id} cannot chain this disk onto its base`, {
            vdi: liveVdiUuid,
            base: baseVdiUuid,
            reason: verdict.reason,
          })
        } else this.#parents.set(liveVdiUuid.toLowerCase(), verdict)
      }
    })
  }

  async prepare(context: VmRunContext, _input: { readonly isFull: boolean }, task: Task): Promise<void> {
    await this.#locked(context, task, async () => {
      // Metadata only: the VHDs stay, this run's delta may chain onto them (merged in cleanup).
      if (this.settings.deleteFirst) await this.#deleteExpired(context, 'delta', task)
    })
  }

  async transfer(context: VmRunContext, deltaExport: DeltaExport, task: Task): Promise<TransferResult> {
    return this.#locked(context, task, (lock) =>
      task.run(
        { message: 'transfer' },
        async (transfer) => {
          const id = metadataPath(context.vm.uuid, context.timestampMs)
          if (await alreadyWritten(this.#remote, id, deltaExport.vmSnapshot.uuid)) {
            transfer.info('this backup is on the remote already: not written again', { id })
            return { sizeBytes: 0 }
          }
          const disks: DeltaDiskInput[] = checkDeltaExport(deltaExport, this.id).map((disk) => {
            const parent = this.#parentOf(disk.liveVdiUuid, disk.baseSnapshotVdiUuid)
            return {
              vdiRef: disk.snapshotVdiRef,
              vdiUuid: disk.liveVdiUuid,
              source: lock.source(disk.source),
              uniqueId: disk.snapshotVdiUuid,
              ...(parent === undefined ? {} : { parentTimestampMs: parent.timestampMs }),
            }
          })
          const { vmSnapshot, vbds, vdis, vifs } = deltaExport
          const written = await writeDeltaBackup(
            this.#remote,
            {
              metadata: { ...this.#ids(context), vm: context.vm, vmSnapshot, vbds, vdis, vifs },
              timestampMs: context.timestampMs,
              disks,
              clock: this.#clock,
              concurrency:
                this.settings.diskPerVmConcurrency === 0 ? disks.length : this.settings.diskPerVmConcurrency,
            },
            transfer,
          )
          return { sizeBytes: written.sizeBytes }
        },
        { result: sizeResult },
      ),
    )
  }

  async cleanup(context: VmRunContext, task: Task): Promise<void> {
    await this.#locked(context, task, (lock) =>
      task.run({ message: 'merge' }, async (merge) => {
        await this.#deleteExpired(context, 'delta', merge)
        const size = await mergeAndClean(
          this.#remote,
          context.vm.uuid,
          {
            store: this.#store,
            maxMergedDeltasPerRun: this.settings.maxMergedDeltasPerRun,
            lock: lock.handle,
          },
          merge,
        )
        return { size }
      }),
    )
  }

  async runFull(
    context: VmRunContext,
    input: {
      readonly vmSnapshot: DeltaExport['vmSnapshot']
      readonly stream: AsyncIterable<Uint8Array>
      readonly sizeBytes?: number
    },
    task: Task,
  ): Promise<TransferResult> {
    return this.#locked(context, task, async (lock) => {
      const clean = () => task.run({ message: 'clean' }, (t) => this.#deleteExpired(context, 'full', t))
      if (this.settings.deleteFirst) await clean()
      const result = await task.run(
        { message: 'transfer' },
        async (transfer) => {
          const id = metadataPath(context.vm.uuid, context.timestampMs)
          if (await alreadyWritten(this.#remote, id, input.vmSnapshot.uuid)) {
            transfer.info('this backup is on the remote already: not written again', { id })
            return { sizeBytes: 0 }
          }
          const written = await writeFullBackup(
            this.#remote,
            {
              metadata: { ...this.#ids(context), vm: context.vm, vmSnapshot: input.vmSnapshot },
              timestampMs: context.timestampMs,
              xva: lock.stream(input.stream),
              ...(input.sizeBytes === undefined ? {} : { sizeBytes: input.sizeBytes }),
            },
            transfer,
          )
          return { sizeBytes: written.sizeBytes }
        },
        { result: sizeResult },
      )
      if (!this.settings.deleteFirst) await clean()
      return result
    })
  }

  /** Restores this run's backup on the health-check SR of the source's pool and boots it (under the lock: no merge meanwhile). */
  async healthCheck(context: VmRunContext, input: HealthCheckInput, task: Task): Promise<void> {
    await this.#locked(context, task, async () => {
      const id = metadataPath(context.vm.uuid, context.timestampMs)
      const { backups } = await listVmBackups(this.#remote, context.vm.uuid, { useCache: false }, task)
      const backup = backups.find((b) => b.id === id)
      if (backup === undefined)
        throw new TargetError(
          'TARGET_STATE',
          `remote ${this.id}: this run's backup ${id} is not listed: nothing to health-check`,
        )
      const xapi = input.sourceXapi
      const srRef = await xapi.getByUuid('SR', input.srUuid, { signal: task.signal })
      await healthCheckVm(
        xapi,
        {
          timeoutMs: input.timeoutMs,
          clock: input.clock,
          signal: task.signal,
          makeVm: async (made) =>
            (await restoreBackup({ xapi, remote: this.#remote, backup, srRef, clock: input.clock }, made))
              .vmRef,
        },
        task,
      )
    })
  }

  async afterBackup(_context: VmRunContext, _task: Task): Promise<void> {
    const lock = this.#lock
    this.#lock = undefined
    // Already released when a step failed (the target was dropped then).
    await lock?.handle.release()
  }

  #ids(context: VmRunContext) {
    return { jobId: context.job.id, scheduleId: context.scheduleId }
  }

  /** The parent accepted for this disk, undefined for a key disk; BASE_UNKNOWN for a base not accepted. */
  #parentOf(liveVdiUuid: string, base: string | undefined): ChainParent | undefined {
    if (base === undefined) return undefined
    const parent = this.#parents.get(liveVdiUuid)
    if (parent?.baseVdiUuid.toLowerCase() !== base.toLowerCase())
      throw new TargetError(
        'BASE_UNKNOWN',
        `remote ${this.id}: disk ${liveVdiUuid} is a delta over ${base}, which checkBaseVdis did not accept on this remote`,
      )
    return parent
  }

  /** Deletes this run's expired backups of `mode` (retention.ts plan; at most maxMergedDeltasPerRun deltas per run). */
  async #deleteExpired(context: VmRunContext, mode: 'full' | 'delta', task: Task): Promise<void> {
    const { backups } = await listVmBackups(this.#remote, context.vm.uuid, {}, task)
    const expired = expiredBackups(backups, {
      mode,
      ...this.#ids(context),
      newBackupId: metadataPath(context.vm.uuid, context.timestampMs),
      newTimestampMs: context.timestampMs,
      settings: this.settings,
      ...(mode === 'delta' ? { maxDeletions: this.settings.maxMergedDeltasPerRun - this.#deletions } : {}),
    })
    if (mode === 'delta') this.#deletions += expired.length
    await deleteBackups(this.#remote, context.vm.uuid, expired, task)
  }

  /**
   * Runs one step under the lock taken by beforeBackup (TARGET_STATE without it, or for another
   * VM), keeping it alive first; a step that throws releases it, as the VM run drops the target.
   */
  async #locked<T>(context: VmRunContext, task: Task, fn: (lock: HeldLock) => Promise<T>): Promise<T> {
    const lock = this.#lock
    if (lock === undefined)
      throw new TargetError(
        'TARGET_STATE',
        `remote ${this.id}: the VM lock is not held (beforeBackup did not run, or an earlier step failed)`,
      )
    if (lock.vmUuid !== context.vm.uuid)
      throw new TargetError(
        'TARGET_STATE',
        `remote ${this.id}: holds the lock of VM ${lock.vmUuid}, not ${context.vm.uuid}`,
      )
    try {
      await lock.keepAlive()
      return await fn(lock)
    } catch (error) {
      this.#lock = undefined
      await lock.handle.release().catch((releaseError: unknown) => {
        task.warning(`remote ${this.id}: could not release the VM lock; it expires after its lease`, {
          error: String(releaseError),
        })
      })
      throw error
    }
  }
}
