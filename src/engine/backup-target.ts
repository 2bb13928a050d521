// The seed's Writer API (xen-orchestra-backups.md §7): one target per remote or SR a VM is written
// to. Full vs delta is data (the job's mode), not a class axis: a target implements the calls of
// the modes it supports. The VM run (vm-run.ts) calls them in this order, each under its task:
//   delta: beforeBackup → checkBaseVdis → prepare → transfer → cleanup → afterBackup
//   full:  beforeBackup → runFull → afterBackup
// A target that throws is dropped for the rest of the VM run (a warning names it and the step);
// when none is left the VM fails with every cause (AggregateError).
import type { BlockSource } from '../formats/block-source.ts'
import type { Task } from '../tasks/task.ts'
import type { Clock } from '../shared/clock.ts'
import type { VbdRecord, VdiRecord, VifRecord, VmRecord, XapiClient } from '../xapi/types.ts'
import type { VmBackupSettings } from './settings-schema.ts'

/** What every target of one VM run shares: the job, the schedule, the VM and the run's timestamp. */
export interface VmRunContext {
  readonly job: { readonly id: string; readonly name: string; readonly mode: 'full' | 'delta' }
  readonly scheduleId: string
  /** The live VM's record (uuid, name_label, tags, …) as read at the start of the run. */
  readonly vm: VmRecord
  /** The backup's timestamp (ms): the snapshot's `snapshot_time`, or the run clock for offline backups. */
  readonly timestampMs: number
}

/** One disk of a delta export: the snapshot VDI, its live VDI's uuid, and its blocks. */
export interface DeltaExportDisk {
  /** The snapshot VDI's ref (the key of `vdis`, `vbds[*].VDI` and the metadata's `vhds`). */
  readonly snapshotVdiRef: string
  /** The live VDI's uuid: the chain folder `vdis/<job>/<vdi uuid>/` on a remote. */
  readonly liveVdiUuid: string
  /** The base snapshot VDI's uuid when this disk is a delta over it; undefined for a full disk. */
  readonly baseSnapshotVdiUuid: string | undefined
  /**
   * The disk's blocks: for a delta, only the blocks changed since the base. `blocks()` may be
   * iterated once per target (the fan-out gives each target its own view of one export).
   */
  readonly source: BlockSource
}

/**
 * A VIF as exported (XO's delta metadata): its record plus what a restore or a replica on another
 * pool needs to find the matching network there (uuid, then name and VLAN).
 */
export type ExportedVif = VifRecord & {
  readonly $network$uuid?: string
  readonly $network$name_label?: string
  readonly $network$VLAN?: number
}

/** The seed's `deltaExport`: the snapshot's records and one block source per exported disk. */
export interface DeltaExport {
  readonly vmSnapshot: VmRecord
  readonly vbds: Readonly<Record<string, VbdRecord>>
  readonly vdis: Readonly<Record<string, VdiRecord>>
  readonly vifs: Readonly<Record<string, ExportedVif>>
  readonly disks: readonly DeltaExportDisk[]
}

/** The size of what a transfer stored (the seed's `transfer` task result). */
export interface TransferResult {
  readonly sizeBytes: number
}

/** What a target's health check needs (settings healthCheckSr and healthCheckTimeout). */
export interface HealthCheckInput {
  /** The SR (uuid) the disposable VM is made on: in the source's pool for a remote, the replica's for an SR. */
  readonly srUuid: string
  readonly timeoutMs: number
  readonly clock: Clock
  /** The pool the VM was backed up from (where a remote's backup is restored). */
  readonly sourceXapi: XapiClient
}

/** A place one VM is written to: a remote (backup) or an SR (replication). */
export interface BackupTarget {
  readonly kind: 'remote' | 'SR'
  /** The remote id or SR uuid (the `export` task's `data.id`). */
  readonly id: string
  /** This target's effective settings for this VM (job → schedule → VM → target). */
  readonly settings: VmBackupSettings
  /** Before the snapshot: take the VM lock, resume interrupted merges, conservative repair. */
  beforeBackup(context: VmRunContext, task: Task): Promise<void>
  /**
   * Delta: removes from `candidates` (base snapshot VDI uuid → live VDI uuid) every base this
   * target cannot chain onto. Called sequentially on every target with the same map, so what is
   * left is the intersection.
   */
  checkBaseVdis?(context: VmRunContext, candidates: Map<string, string>, task: Task): Promise<void>
  /** Delta: before the transfer, with whether this run is a key (`isFull`): e.g. deleteFirst retention. */
  prepare?(context: VmRunContext, input: { readonly isFull: boolean }, task: Task): Promise<void>
  /** Delta: writes one backup (data first, metadata last); a backup whose metadata exists is not written twice. */
  transfer?(context: VmRunContext, deltaExport: DeltaExport, task: Task): Promise<TransferResult>
  /** Delta: after the transfer: retention of this target's old backups (and the merges it needs). */
  cleanup?(context: VmRunContext, task: Task): Promise<void>
  /** Full: writes one XVA backup from `stream` (checksummed while written), then retention. */
  runFull?(
    context: VmRunContext,
    input: {
      readonly vmSnapshot: VmRecord
      readonly stream: AsyncIterable<Uint8Array>
      readonly sizeBytes?: number
    },
    task: Task,
  ): Promise<TransferResult>
  /**
   * After a successful export of a VM chosen for a health check: makes a disposable VM of what
   * this run wrote here (a restore of the backup, a clone of the replica) on `input.srUuid`,
   * boots it without networks and waits for its guest tools (engine/health-check); the VM and
   * its disks are gone afterwards whatever happened. Throws when the check fails.
   */
  healthCheck?(context: VmRunContext, input: HealthCheckInput, task: Task): Promise<void>
  /** Always called last, whatever happened: release the lock (and anything beforeBackup took). */
  afterBackup(context: VmRunContext, task: Task): Promise<void>
}
