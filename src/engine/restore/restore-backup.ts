// Restore of any backup of a repository onto an SR (issue 11 §2; xen-orchestra-backups.md §4):
// a full backup's XVA, verified while it streams, through `PUT /import`; a delta backup's disk
// chains through importDeltaVm. Then the restored VM is tagged, named after the backup's time,
// described, and stripped of backup bookkeeping. Task tree (seed "During restoration"): the
// caller's `restore` task (restoreTaskProperties) holds one `transfer` ending with `{ id, size }`.
import type { Readable } from 'node:stream'
import type { ReadOptions, Remote } from '../../remotes/remote.ts'
import type { BackupListing } from '../../repository/listing.ts'
import type { DeltaBackupMetadata } from '../../repository/metadata.ts'
import { readFullBackupXva } from '../../repository/read-backup.ts'
import type { Clock } from '../../shared/clock.ts'
import { systemClock } from '../../shared/clock.ts'
import { STEP } from '../../tasks/events.ts'
import type { Task, TaskProperties } from '../../tasks/task.ts'
import type { XapiClient, XapiRef } from '../../xapi/types.ts'
import { fitToRecordedSize, openBackupDisks } from './backup-disks.ts'
import { destroyVmWithDisks } from './destroy-vm.ts'
import { importDeltaVm } from './import-delta-vm.ts'
import { importXva } from './import-xva.ts'
import type { LooseRecord } from './network-mapping.ts'
import { restoredDescription, restoredName, restoredTags, withoutBackupKeys } from './restore-attributes.ts'
import { RestoreError } from './restore-error.ts'
import { planRestoredDisks } from './restore-plan.ts'
import { applyRestoredAttributes } from './restored-attributes-apply.ts'
import { describeLeftovers } from './rollback.ts'
import { readTargetNetworks } from './target-networks.ts'

/** What restoreBackup restores, from where, onto which SR. */
export interface RestoreBackupInput {
  readonly xapi: XapiClient
  readonly remote: Remote
  /** The backup, as listVmBackups lists it. */
  readonly backup: BackupListing
  readonly srRef: XapiRef
  /**
   * Delta backups: the SR of some disks by VDI uuid (the backed-up snapshot VDI's or the live
   * VDI's), or null to leave a disk out; the others go to `srRef`. Refused for a full backup.
   */
  readonly mapVdiSrs?: ReadonlyMap<string, XapiRef | null>
  /** New MACs for the VIFs instead of the backed-up ones. */
  readonly newMacAddresses?: boolean
  /** How the description names the remote (default: the remote's own description). */
  readonly remoteName?: string
  readonly clock?: Clock
  readonly signal?: AbortSignal
}

/** The VM a restore made. */
export interface RestoredVm {
  readonly vmRef: XapiRef
  readonly vmUuid: string
  /** Bytes sent to XAPI (the XVA, or the VHD streams of the disks). */
  readonly sizeBytes: number
}

/** The root `restore` task of the seed: `{ backupId, jobId, srId, time }` (time: the backup's, ms). */
export function restoreTaskProperties(backup: BackupListing, srUuid: string): TaskProperties {
  return {
    message: STEP.restore,
    data: {
      backupId: backup.id,
      jobId: backup.metadata.jobId,
      srId: srUuid,
      time: backup.metadata.timestamp,
    },
  }
}

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined)

/** What the restored VM is made from in a delta backup: the snapshot's record over the VM's, cleaned. */
function deltaRecords(metadata: DeltaBackupMetadata): {
  vmRecord: LooseRecord
  vdis: Record<string, LooseRecord>
} {
  const vm = metadata.vm as LooseRecord
  const snapshot = metadata.vmSnapshot as LooseRecord
  const vmRecord = {
    ...vm,
    ...snapshot,
    other_config: withoutBackupKeys(snapshot.other_config ?? vm.other_config),
  }
  const vdis: Record<string, LooseRecord> = {}
  for (const [ref, vdi] of Object.entries(metadata.vdis))
    vdis[ref] = { ...vdi, other_config: withoutBackupKeys((vdi as LooseRecord).other_config) }
  return { vmRecord, vdis }
}

async function importFull(
  input: RestoreBackupInput,
  transfer: Task,
): Promise<{ vmRef: XapiRef; sizeBytes: number }> {
  const { xapi, remote, backup, srRef, signal } = input
  if (input.mapVdiSrs !== undefined && input.mapVdiSrs.size > 0)
    throw new RestoreError(
      'RESTORE_UNSUPPORTED',
      `${backup.id}: a full backup is one XVA imported onto one SR; placing or skipping its disks one by one is not supported`,
    )
  const [xva] = backup.files
  if (xva === undefined) throw new RestoreError('RESTORE_BACKUP_UNUSABLE', `${backup.id}: names no XVA`)
  const { sizeBytes: lengthBytes } = await remote.stat(xva)
  // The XVA's read stream is kept, to be closed whatever happens: an import that fails before
  // reading it would otherwise leave the file open. No signal on the read itself: the upload's
  // abort stops the reading, and a stream aborted before anyone listens would throw unhandled.
  const opened: Readable[] = []
  const capturing = new Proxy(remote, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target)
      if (typeof value !== 'function') return value
      if (property !== 'read') return (value as (...args: unknown[]) => unknown).bind(target)
      return async (path: string, options?: ReadOptions) => {
        const stream = await target.read(path, options)
        opened.push(stream)
        return stream
      }
    },
  })
  try {
    const stream = await readFullBackupXva(capturing, backup)
    return await importXva(
      xapi,
      {
        stream,
        lengthBytes,
        srRef,
        ...(signal === undefined ? {} : { signal }),
        ...(input.clock === undefined ? {} : { clock: input.clock }),
      },
      transfer,
    )
  } finally {
    for (const stream of opened) stream.destroy()
  }
}

async function importDelta(
  input: RestoreBackupInput,
  metadata: DeltaBackupMetadata,
  transfer: Task,
): Promise<{ vmRef: XapiRef; sizeBytes: number }> {
  const { xapi, remote, backup, signal } = input
  const planned = planRestoredDisks(metadata, input.srRef, input.mapVdiSrs)
  const networks = await readTargetNetworks(xapi, signal === undefined ? {} : { signal })
  const opened = await openBackupDisks(
    remote,
    backup,
    planned.map((d) => d.vdiRef),
  )
  try {
    const { vmRecord, vdis } = deltaRecords(metadata)
    const vm = metadata.vm as LooseRecord
    const sources = new Map(
      opened.disks.map((d) => [d.vdiRef, fitToRecordedSize(d.source, metadata.vdis[d.vdiRef]?.virtual_size)]),
    )
    const imported = await importDeltaVm(
      xapi,
      {
        vmRecord,
        vbds: metadata.vbds,
        vdis,
        vifs: metadata.vifs ?? {},
        disks: planned.map(({ vdiRef, srRef }) => ({
          vdiRef,
          srRef,
          source: sources.get(vdiRef) ?? failSource(vdiRef),
        })),
        networks,
        nameLabel: restoredName(text(vm.name_label) ?? backup.vmUuid, backup.timestampMs),
        tags: restoredTags(vmRecord.tags ?? vm.tags),
        ...(input.newMacAddresses === undefined ? {} : { newMacAddresses: input.newMacAddresses }),
      },
      {
        ...(signal === undefined ? {} : { signal }),
        ...(input.clock === undefined ? {} : { clock: input.clock }),
      },
      transfer,
    )
    return { vmRef: imported.vmRef, sizeBytes: imported.sizeBytes }
  } finally {
    await opened.close()
  }
}

function failSource(vdiRef: string): never {
  throw new RestoreError('RESTORE_BACKUP_UNUSABLE', `disk ${vdiRef}: its chain was not opened`)
}

/**
 * Restores `backup` onto `srRef` under `task` (the caller's `restore` task): one `transfer` child
 * task does the import and ends with `{ id: <new VM uuid>, size }`; then the VM is tagged
 * `restored from backup`, named `<name> (<backup timestamp>)`, described `Restored on <now> from
 * <remote> - <description>`, and loses every backup key of its (and its disks') other_config.
 * A backup with missing files, a broken chain, an import XAPI fails, an abort: RestoreError (or
 * the abort) naming the object, with nothing the restore made left on the pool. The backup is
 * only read.
 */
export async function restoreBackup(input: RestoreBackupInput, task: Task): Promise<RestoredVm> {
  const { xapi, backup } = input
  const clock = input.clock ?? systemClock
  const signal = input.signal === undefined ? task.signal : AbortSignal.any([input.signal, task.signal])
  const scoped: RestoreBackupInput = { ...input, signal }
  if (backup.missingFiles.length > 0)
    throw new RestoreError(
      'RESTORE_BACKUP_UNUSABLE',
      `${backup.id}: files missing or empty: ${backup.missingFiles.join(', ')}`,
      {
        details: { object: backup.id },
      },
    )
  const metadata = backup.metadata
  const restored = await task.run(
    { message: STEP.transfer },
    async (transfer) => {
      const { vmRef, sizeBytes } =
        metadata.mode === 'full'
          ? await importFull(scoped, transfer)
          : await importDelta(scoped, metadata, transfer)
      try {
        const vmUuid = (await xapi.getRecord('VM', vmRef)).uuid
        return { vmRef, vmUuid, sizeBytes }
      } catch (error) {
        throw await undone(xapi, vmRef, error, clock)
      }
    },
    { result: (r) => ({ id: r.vmUuid, size: r.sizeBytes }) },
  )
  try {
    signal.throwIfAborted()
    const vm = metadata.vm as LooseRecord
    await applyRestoredAttributes(xapi, restored.vmRef, {
      nameLabel: restoredName(text(vm.name_label) ?? backup.vmUuid, backup.timestampMs),
      nameDescription: restoredDescription(
        clock.now(),
        input.remoteName ?? input.remote.description,
        text(vm.name_description) ?? '',
      ),
    })
  } catch (error) {
    throw await undone(xapi, restored.vmRef, error, clock)
  }
  return restored
}

/** Destroys the restored VM after a late failure; the error to throw (naming leftovers, if any). */
async function undone(xapi: XapiClient, vmRef: XapiRef, error: unknown, clock: Clock): Promise<unknown> {
  const left = describeLeftovers(await destroyVmWithDisks(xapi, vmRef, clock))
  if (left === '') return error
  const reason = error instanceof Error ? error.message : String(error)
  return new RestoreError('RESTORE_IMPORT_FAILED', `${reason}${left}`, { cause: error })
}
