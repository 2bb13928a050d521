// Continuous Replication: the Writer API on an SR in delta mode (xen-orchestra-backups.md §5.2, the
// model of XO 6.3): one live replica VM, start blocked, and after each run a "target snapshot" of
// it that is both a retention entry and the next run's base. A run's delta is applied
//   - in place, on the replica's own disks, when the replica still holds exactly the content of
//     the target snapshot taken from the base (an export of its disks over that snapshot lists no
//     block) and its configuration (vCPUs, memory, disks, VIFs) is unchanged;
//   - else on clones of the base snapshot's disks (a new disk where there is no base), as a new
//     replica VM (restore/import-delta-vm.ts); the old replica goes once its snapshots have.
// `xo:backup:sr` marks completeness: removed from a replica before it is updated in place, set
// last; a copy without it is an interrupted one, removed by the next run.
import { serializeError } from '../../shared/errors.ts'
import type { Task } from '../../tasks/task.ts'
import type { VdiRecord, VmRecord, XapiClient, XapiRef } from '../../xapi/types.ts'
import type {
  BackupTarget,
  DeltaExport,
  HealthCheckInput,
  TransferResult,
  VmRunContext,
} from '../backup-target.ts'
import { checkReplica } from './replica-health-check.ts'
import { importDeltaVm } from '../restore/import-delta-vm.ts'
import { importVdiContent } from '../restore/import-vdi-content.ts'
import type { VmBackupSettings } from '../settings-schema.ts'
import type { VmRunSources } from '../vm-run/sources.ts'
import { KEY } from '../vm-run/snapshot-attributes.ts'
import type { ReplicaIdentity } from './replica-marking.ts'
import { markIncomplete, markReplica, replicaKeys } from './replica-marking.ts'
import type { ReplicaOwner } from './replicas.ts'
import { listReplicas, REPLICA_TAG, replicaName, SR_KEY, START_BLOCKED_MESSAGE } from './replicas.ts'
import type { SrTargetOptions } from './sr-full-target.ts'
import { checkCopyRetention, destroyReplicas } from './sr-full-target.ts'
import { TargetError } from './target-error.ts'

const NULL_REF = 'OpaqueRef:NULL'

/** What a CR target needs besides an SR target's options: the exports, to probe replicas. */
export interface SrDeltaTargetOptions extends SrTargetOptions {
  readonly sources: VmRunSources
}

/** A BackupTarget (kind 'SR') that keeps an incremental replica of a VM on an SR (CR). */
export function createSrDeltaTarget(options: SrDeltaTargetOptions): BackupTarget {
  checkCopyRetention(options)
  return new SrDeltaTarget(options)
}

/** A base accepted by checkBaseVdis: the target snapshot's disk holding the base's content. */
interface AcceptedBase {
  readonly ref: XapiRef
  readonly record: VdiRecord
}

/** A replica that can take this run's delta on its own disks. */
interface InPlacePlan {
  readonly replicaRef: XapiRef
  readonly replica: VmRecord
  /** Per snapshot VDI ref of the export: the replica's disk that receives its delta. */
  readonly targets: ReadonlyMap<string, { readonly ref: XapiRef; readonly record: VdiRecord }>
}

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error))

class SrDeltaTarget implements BackupTarget {
  readonly kind = 'SR'
  readonly id: string
  readonly settings: VmBackupSettings
  readonly #xapi: XapiClient
  readonly #srRef: XapiRef
  readonly #sources: VmRunSources
  /** Source base snapshot VDI uuid → the replica snapshot disk with its content. */
  readonly #bases = new Map<string, AcceptedBase>()
  /** The replica written by this run (kept by cleanup whatever its snapshots). */
  #current: XapiRef | undefined

  constructor(options: SrDeltaTargetOptions) {
    this.id = options.srUuid
    this.settings = options.settings
    this.#xapi = options.xapi
    this.#srRef = options.srRef
    this.#sources = options.sources
  }

  async beforeBackup(_context: VmRunContext, task: Task): Promise<void> {
    this.#bases.clear()
    this.#current = undefined
    await this.#xapi.getRecord('SR', this.#srRef, { signal: task.signal })
  }

  /**
   * Keeps a base when the SR holds a complete target snapshot disk of this VM with that base's
   * content (`xo:backup:contentKey` = the base snapshot VDI's uuid); else removes it with a
   * warning naming the disk: that disk is replicated whole.
   */
  async checkBaseVdis(context: VmRunContext, candidates: Map<string, string>, task: Task): Promise<void> {
    const vdis = await this.#xapi.getAllRecords('VDI', { signal: task.signal })
    for (const [base, live] of candidates) {
      const found = [...vdis].filter(
        ([, r]) =>
          r.SR === this.#srRef &&
          r.is_a_snapshot &&
          r.managed &&
          !r.missing &&
          r.type !== 'cbt_metadata' &&
          r.other_config[KEY.contentKey]?.toLowerCase() === base.toLowerCase() &&
          r.other_config[KEY.vm] === context.vm.uuid &&
          r.other_config[SR_KEY] === this.id,
      )
      const newest = found.sort(([, a], [, b]) => a.snapshot_time.localeCompare(b.snapshot_time)).at(-1)
      if (newest === undefined) {
        candidates.delete(base)
        task.warning(
          `SR ${this.id} holds no replica of base ${base} of disk ${live}: this disk is replicated whole`,
          { sr: this.id, vdi: live, base },
        )
      } else this.#bases.set(base.toLowerCase(), { ref: newest[0], record: newest[1] })
    }
  }

  async prepare(context: VmRunContext, _input: { readonly isFull: boolean }, task: Task): Promise<void> {
    const listing = await listReplicas(this.#xapi, this.#owner(context), task.signal)
    await destroyReplicas(this.#xapi, listing.interrupted, 'interrupted copy', task)
    if (this.settings.deleteFirst)
      await task.run({ message: 'clean' }, (clean) =>
        this.#deleteOld(context, this.settings.copyRetention - 1, clean),
      )
  }

  async transfer(context: VmRunContext, exported: DeltaExport, task: Task): Promise<TransferResult> {
    // A checkpoint's memory (a disk no VBD holds) is not replicated: a replica is never resumed.
    // Its blocks are still read, to the end, so that the other targets sharing the export go on.
    const attached = new Set(Object.values(exported.vbds).map((vbd) => vbd.VDI))
    const skipped = exported.disks.filter((d) => !attached.has(d.snapshotVdiRef))
    const deltaExport: DeltaExport = {
      ...exported,
      disks: exported.disks.filter((d) => !skipped.includes(d)),
    }
    if (skipped.length > 0)
      task.info("the checkpoint's memory is not replicated", {
        vdis: skipped.map((d) => exported.vdis[d.snapshotVdiRef]?.uuid ?? d.snapshotVdiRef),
      })
    const drained = Promise.all(
      skipped.map(async (disk) => {
        for await (const _block of disk.source.blocks());
      }),
    )
    try {
      return await this.#transfer(context, deltaExport, task)
    } finally {
      await drained.catch(() => undefined)
    }
  }

  async #transfer(context: VmRunContext, deltaExport: DeltaExport, task: Task): Promise<TransferResult> {
    return task.run(
      { message: 'transfer' },
      async (transfer) => {
        const identity = this.#identity(context)
        const plan = await this.#planInPlace(context, deltaExport, transfer)
        let sizeBytes = 0
        let vmRef: XapiRef
        let disks: XapiRef[]
        if ('reason' in plan) {
          transfer.info(`a new replica VM is created: ${plan.reason}`, { sr: this.id })
          const imported = await this.#importNew(context, deltaExport, transfer)
          vmRef = imported.vmRef
          disks = imported.disks
          sizeBytes = imported.sizeBytes
        } else {
          vmRef = plan.replicaRef
          transfer.info('the replica is updated in place', { vm: plan.replica.uuid })
          disks = [...plan.targets.values()].map((t) => t.ref)
          await markIncomplete(this.#xapi, vmRef, disks, transfer.signal)
          for (const disk of deltaExport.disks) {
            const target = plan.targets.get(disk.snapshotVdiRef) as { ref: XapiRef; record: VdiRecord }
            if (target.record.virtual_size < disk.source.virtualSize)
              await this.#xapi.call('VDI.resize', [target.ref, disk.source.virtualSize], {
                signal: transfer.signal,
              })
            const written = await importVdiContent(
              this.#xapi,
              { vdiRef: target.ref, source: disk.source, signal: transfer.signal },
              transfer,
            )
            sizeBytes += written.sizeBytes
          }
          await this.#xapi.call('VM.set_name_description', [vmRef, deltaExport.vmSnapshot.name_description], {
            signal: transfer.signal,
          })
        }
        this.#current = vmRef
        try {
          // Each disk says whose content it holds: the next run's base is found by this key.
          const keyed = deltaExport.disks.map((disk, k) => {
            const uuid = deltaExport.vdis[disk.snapshotVdiRef]?.uuid ?? ''
            return { ref: disks[k] as XapiRef, keys: { [KEY.contentKey]: uuid, [KEY.copyOf]: uuid } }
          })
          await markReplica(this.#xapi, vmRef, keyed, identity, transfer.signal)
        } catch (error) {
          transfer.warning(`the replica is left incomplete (removed by the next run): ${message(error)}`, {
            error: serializeError(error),
          })
          throw error
        }
        await transfer.run({ message: 'target snapshot' }, async (snap) => {
          const ref = await this.#xapi.callAsync(
            'VM.snapshot',
            [vmRef, replicaName(context.vm.name_label, context.job.name, context.timestampMs)],
            { signal: snap.signal },
          )
          return (await this.#xapi.getRecord('VM', ref, { signal: snap.signal })).uuid
        })
        return { sizeBytes }
      },
      { result: (r) => ({ size: r.sizeBytes }) },
    )
  }

  async cleanup(context: VmRunContext, task: Task): Promise<void> {
    await task.run({ message: 'clean' }, (clean) =>
      this.#deleteOld(context, this.settings.copyRetention, clean),
    )
  }

  async healthCheck(_context: VmRunContext, input: HealthCheckInput, task: Task): Promise<void> {
    await checkReplica(this.#xapi, this.#current, this.id, input, task)
  }

  afterBackup(_context: VmRunContext, _task: Task): Promise<void> {
    this.#bases.clear()
    return Promise.resolve()
  }

  /**
   * Keeps the newest `keep` target snapshots (never one holding a base this run chains onto),
   * destroys the older ones, then every replica VM but this run's that no kept snapshot is of.
   */
  async #deleteOld(context: VmRunContext, keep: number, task: Task): Promise<void> {
    const { complete } = await listReplicas(this.#xapi, this.#owner(context), task.signal)
    const snapshots = complete.filter((r) => r.record.is_a_snapshot)
    const bases = new Set([...this.#bases.values()].map((b) => b.ref))
    const expired = snapshots
      .slice(0, Math.max(0, snapshots.length - Math.max(0, keep)))
      .filter((s) => !s.disks.some((d) => bases.has(d.ref)))
    await destroyReplicas(this.#xapi, expired, 'old replica snapshot', task)
    const kept = snapshots.filter((s) => !expired.includes(s))
    const orphans = complete.filter(
      (r) =>
        !r.record.is_a_snapshot &&
        r.ref !== this.#current &&
        !kept.some((s) => s.record.snapshot_of === r.ref),
    )
    await destroyReplicas(this.#xapi, orphans, 'old replica', task)
  }

  /** Imports the delta as a new replica VM: clones of the bases' disks, new disks for the rest. */
  async #importNew(
    context: VmRunContext,
    deltaExport: DeltaExport,
    task: Task,
  ): Promise<{ vmRef: XapiRef; disks: XapiRef[]; sizeBytes: number }> {
    const disks = deltaExport.disks.map((disk) => {
      const base =
        disk.baseSnapshotVdiUuid === undefined
          ? undefined
          : this.#bases.get(disk.baseSnapshotVdiUuid.toLowerCase())
      if (disk.baseSnapshotVdiUuid !== undefined && base === undefined)
        throw new TargetError(
          'BASE_UNKNOWN',
          `SR ${this.id}: disk ${disk.liveVdiUuid} is a delta over ${disk.baseSnapshotVdiUuid}, which checkBaseVdis did not accept on this SR`,
        )
      return {
        vdiRef: disk.snapshotVdiRef,
        source: disk.source,
        srRef: this.#srRef,
        ...(base === undefined ? {} : { baseVdiRef: base.ref }),
      }
    })
    const imported = await importDeltaVm(
      this.#xapi,
      {
        vmRecord: deltaExport.vmSnapshot,
        vbds: deltaExport.vbds,
        vdis: deltaExport.vdis,
        vifs: deltaExport.vifs,
        disks,
        nameLabel: replicaName(context.vm.name_label, context.job.name, context.timestampMs),
        tags: [...deltaExport.vmSnapshot.tags.filter((t) => t !== REPLICA_TAG.delta), REPLICA_TAG.delta],
        otherConfig: { ...replicaKeys(this.#identity(context)), [KEY.copyOf]: context.vm.uuid },
        finalBlockedOperations: { start: START_BLOCKED_MESSAGE, start_on: START_BLOCKED_MESSAGE },
        newMacAddresses: false,
      },
      { signal: task.signal },
      task,
    )
    return {
      vmRef: imported.vmRef,
      disks: deltaExport.disks.map((d) => imported.vdiRefs.get(d.snapshotVdiRef) as XapiRef),
      sizeBytes: imported.sizeBytes,
    }
  }

  /**
   * The replica this run can update in place, or why not: every disk chains onto a base whose
   * target snapshot is of one live, halted, complete replica; each of the replica's disks is the
   * disk that snapshot was taken of, no smaller than the new content, and unchanged since; the
   * replica's vCPUs, memory and VIF count are the snapshot's.
   */
  async #planInPlace(
    context: VmRunContext,
    deltaExport: DeltaExport,
    task: Task,
  ): Promise<InPlacePlan | { reason: string }> {
    const { signal } = task
    const xapi = this.#xapi
    const bases: AcceptedBase[] = []
    for (const disk of deltaExport.disks) {
      const base =
        disk.baseSnapshotVdiUuid === undefined
          ? undefined
          : this.#bases.get(disk.baseSnapshotVdiUuid.toLowerCase())
      if (base === undefined) return { reason: `disk ${disk.liveVdiUuid} is replicated whole` }
      bases.push(base)
    }
    const snapshotVms = new Set<XapiRef>()
    for (const base of bases)
      for (const vbd of base.record.VBDs) snapshotVms.add((await xapi.getRecord('VBD', vbd, { signal })).VM)
    const [snapshotRef] = snapshotVms
    if (snapshotVms.size !== 1 || snapshotRef === undefined)
      return { reason: 'the bases are not the disks of one target snapshot' }
    const snapshot = await xapi.getRecord('VM', snapshotRef, { signal })
    const replicaRef = snapshot.snapshot_of
    if (replicaRef === NULL_REF) return { reason: 'the target snapshot has no replica VM any more' }
    let replica: VmRecord
    try {
      replica = await xapi.getRecord('VM', replicaRef, { signal })
    } catch {
      return { reason: 'the replica VM of the target snapshot is gone' }
    }
    if (replica.power_state !== 'Halted') return { reason: `the replica VM is ${replica.power_state}` }
    if (replica.other_config[SR_KEY] !== this.id || !Object.hasOwn(replica.blocked_operations, 'start'))
      return { reason: 'the replica VM is not a complete replica any more' }
    const vm = deltaExport.vmSnapshot
    if (
      replica.VCPUs_max !== vm.VCPUs_max ||
      replica.memory_static_max !== vm.memory_static_max ||
      replica.VIFs.length !== Object.keys(deltaExport.vifs).length
    )
      return { reason: "the VM's configuration (vCPUs, memory or VIFs) changed" }
    const replicaDisks = new Set<XapiRef>()
    for (const vbd of replica.VBDs) {
      const record = await xapi.getRecord('VBD', vbd, { signal })
      if (record.type === 'Disk' && !record.empty) replicaDisks.add(record.VDI)
    }
    if (replicaDisks.size !== deltaExport.disks.length)
      return { reason: 'the VM has another number of disks than its replica' }
    const targets = new Map<string, { ref: XapiRef; record: VdiRecord }>()
    for (const [k, disk] of deltaExport.disks.entries()) {
      const base = bases[k] as AcceptedBase
      const activeRef = base.record.snapshot_of
      if (!replicaDisks.has(activeRef))
        return { reason: `disk ${disk.liveVdiUuid}'s base is not of the replica's disk` }
      const active = await xapi.getRecord('VDI', activeRef, { signal })
      if (active.virtual_size > disk.source.virtualSize) return { reason: `disk ${disk.liveVdiUuid} shrank` }
      if (await this.#changedSince(activeRef, base.ref, signal))
        return { reason: `the replica's disk ${active.uuid} was written to since its last snapshot` }
      targets.set(disk.snapshotVdiRef, { ref: activeRef, record: active })
    }
    return { replicaRef, replica, targets }
  }

  /** Whether `vdiRef` differs from its snapshot `baseRef`: an export of one over the other lists a block. */
  async #changedSince(vdiRef: XapiRef, baseRef: XapiRef, signal: AbortSignal): Promise<boolean> {
    const probe = await this.#sources.openVdiExport(this.#xapi, { vdiRef, baseVdiRef: baseRef, signal })
    try {
      return probe.blockIndexes.length > 0
    } finally {
      await probe.close()
    }
  }

  #owner(context: VmRunContext): ReplicaOwner {
    return {
      jobId: context.job.id,
      scheduleId: context.scheduleId,
      vmUuid: context.vm.uuid,
      srUuid: this.id,
      srRef: this.#srRef,
    }
  }

  #identity(context: VmRunContext): ReplicaIdentity {
    return {
      jobId: context.job.id,
      jobName: context.job.name,
      scheduleId: context.scheduleId,
      vmUuid: context.vm.uuid,
      vmName: context.vm.name_label,
      srUuid: this.id,
      timestampMs: context.timestampMs,
      tag: REPLICA_TAG.delta,
    }
  }
}
