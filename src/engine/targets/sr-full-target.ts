// Disaster Recovery: the Writer API on an SR in full mode (xen-orchestra-backups.md §5.1). Each run
// imports the XVA export into the SR (`PUT /import?sr_id=`) as a new VM, makes it a replica
// (replica-marking.ts: start blocked first, `xo:backup:sr` last) and keeps the newest
// `copyRetention` replicas. Copies left by runs cut short are removed before the transfer.
import { serializeError } from '../../shared/errors.ts'
import type { Clock } from '../../shared/clock.ts'
import type { Task } from '../../tasks/task.ts'
import type { XapiClient, XapiRef, XapiValue } from '../../xapi/types.ts'
import { UNKNOWN_LENGTH_BYTES } from '../../xapi/types.ts'
import type {
  BackupTarget,
  DeltaExport,
  HealthCheckInput,
  TransferResult,
  VmRunContext,
} from '../backup-target.ts'
import { checkReplica } from './replica-health-check.ts'
import type { VmBackupSettings } from '../settings-schema.ts'
import { blockStart, markReplica } from './replica-marking.ts'
import type { Replica, ReplicaOwner } from './replicas.ts'
import { destroyReplica, listReplicas, REPLICA_TAG } from './replicas.ts'
import { TargetError } from './target-error.ts'

/** What an SR target needs: the pool that holds the SR, the SR, and this target's settings. */
export interface SrTargetOptions {
  readonly xapi: XapiClient
  readonly srUuid: string
  readonly srRef: XapiRef
  readonly settings: VmBackupSettings
  readonly clock: Clock
}

/** Throws TARGET_INVALID unless `copyRetention` is an integer >= 1 (XO creates no SR writer at 0). */
export function checkCopyRetention(options: SrTargetOptions): void {
  const retention = options.settings.copyRetention
  if (!Number.isInteger(retention) || retention < 1)
    throw new TargetError(
      'TARGET_INVALID',
      `SR ${options.srUuid}: copyRetention: expected an integer >= 1, got ${JSON.stringify(retention)}`,
    )
}

/** A BackupTarget (kind 'SR') that keeps full copies of a VM on an SR (DR). */
export function createSrFullTarget(options: SrTargetOptions): BackupTarget {
  checkCopyRetention(options)
  return new SrFullTarget(options)
}

/** Counts the bytes of `stream` as they pass. */
async function* counted(
  stream: AsyncIterable<Uint8Array>,
  total: { bytes: number },
): AsyncIterable<Uint8Array> {
  for await (const chunk of stream) {
    total.bytes += chunk.byteLength
    yield chunk
  }
}

/** The VM ref an `/import` task returns (a ref, or the set of imported VMs: xapi.md §3.2 step 5). */
function importedVm(result: XapiValue, srUuid: string): XapiRef {
  const refs = Array.isArray(result) ? (result as XapiValue[]) : [result]
  const [first] = refs
  if (refs.length !== 1 || typeof first !== 'string' || !first.startsWith('OpaqueRef:'))
    throw new TargetError(
      'TARGET_INVALID',
      `SR ${srUuid}: the import answered ${JSON.stringify(result)}, expected the ref of one VM`,
    )
  return first
}

/** Destroys the copies `replicas`, each tried; failures are warnings (the next run tries again). */
export async function destroyReplicas(
  xapi: XapiClient,
  replicas: readonly Replica[],
  what: string,
  task: Task,
): Promise<void> {
  const removed: string[] = []
  for (const replica of replicas) {
    try {
      await destroyReplica(xapi, replica, task.signal)
      removed.push(replica.record.uuid)
    } catch (error) {
      task.warning(
        `${what} ${replica.record.name_label} (${replica.record.uuid}) could not be removed: ${error instanceof Error ? error.message : String(error)}`,
        { vm: replica.record.uuid, error: serializeError(error) },
      )
    }
  }
  if (removed.length > 0) task.info(`${what}s removed`, { vms: removed })
}

class SrFullTarget implements BackupTarget {
  readonly kind = 'SR'
  readonly id: string
  readonly settings: VmBackupSettings
  readonly #xapi: XapiClient
  readonly #srRef: XapiRef
  /** The replica this run made (what its health check clones). */
  #made: XapiRef | undefined

  constructor(options: SrTargetOptions) {
    this.id = options.srUuid
    this.settings = options.settings
    this.#xapi = options.xapi
    this.#srRef = options.srRef
  }

  async beforeBackup(_context: VmRunContext, task: Task): Promise<void> {
    // The SR may have gone since the job started: fail this target now, not halfway through an import.
    await this.#xapi.getRecord('SR', this.#srRef, { signal: task.signal })
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
    const owner = this.#owner(context)
    const before = await listReplicas(this.#xapi, owner, task.signal)
    await destroyReplicas(this.#xapi, before.interrupted, 'interrupted copy', task)
    const retention = this.settings.copyRetention
    // deleteFirst: room is made before the transfer (the new copy will be the last one kept).
    if (this.settings.deleteFirst)
      await task.run({ message: 'clean' }, (clean) =>
        destroyReplicas(
          this.#xapi,
          before.complete.slice(0, Math.max(0, before.complete.length - (retention - 1))),
          'old replica',
          clean,
        ),
      )
    const result = await task.run(
      { message: 'transfer' },
      async (transfer) => {
        const total = { bytes: 0 }
        const answer = await this.#xapi.putResource(
          '/import',
          { sr_id: this.#srRef },
          counted(input.stream, total),
          { lengthBytes: UNKNOWN_LENGTH_BYTES, signal: transfer.signal },
        )
        const vmRef = importedVm(answer, this.id)
        try {
          await blockStart(this.#xapi, vmRef, transfer.signal)
          const vm = await this.#xapi.getRecord('VM', vmRef, { signal: transfer.signal })
          const disks = await this.#diskRefs(vm.VBDs, transfer.signal)
          await markReplica(
            this.#xapi,
            vmRef,
            disks.map((ref) => ({ ref })),
            {
              jobId: context.job.id,
              jobName: context.job.name,
              scheduleId: context.scheduleId,
              vmUuid: context.vm.uuid,
              vmName: context.vm.name_label,
              srUuid: this.id,
              timestampMs: context.timestampMs,
              tag: REPLICA_TAG.full,
            },
            transfer.signal,
          )
          transfer.info('replica created', { vm: vm.uuid })
          this.#made = vmRef
        } catch (error) {
          // An imported VM that is not a complete replica is removed now (else by the next run).
          await this.#discard(vmRef, transfer)
          throw error
        }
        return { sizeBytes: total.bytes }
      },
      { result: (r) => ({ size: r.sizeBytes }) },
    )
    if (!this.settings.deleteFirst)
      await task.run({ message: 'clean' }, async (clean) => {
        const { complete } = await listReplicas(this.#xapi, owner, clean.signal)
        await destroyReplicas(
          this.#xapi,
          complete.slice(0, Math.max(0, complete.length - retention)),
          'old replica',
          clean,
        )
      })
    return result
  }

  async healthCheck(_context: VmRunContext, input: HealthCheckInput, task: Task): Promise<void> {
    await checkReplica(this.#xapi, this.#made, this.id, input, task)
  }

  afterBackup(_context: VmRunContext, _task: Task): Promise<void> {
    // Nothing is held between steps: every step reads the SR's state afresh.
    this.#made = undefined
    return Promise.resolve()
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

  async #diskRefs(vbds: readonly XapiRef[], signal: AbortSignal): Promise<XapiRef[]> {
    const disks: XapiRef[] = []
    for (const vbd of vbds) {
      const record = await this.#xapi.getRecord('VBD', vbd, { signal })
      if (record.type === 'Disk' && !record.empty) disks.push(record.VDI)
    }
    return disks
  }

  async #discard(vmRef: XapiRef, task: Task): Promise<void> {
    try {
      const vm = await this.#xapi.getRecord('VM', vmRef)
      const disks = await this.#diskRefs(vm.VBDs, new AbortController().signal)
      const records = await Promise.all(
        disks.map(async (ref) => ({ ref, record: await this.#xapi.getRecord('VDI', ref) })),
      )
      await destroyReplica(this.#xapi, { ref: vmRef, record: vm, timestampMs: 0, disks: records })
    } catch (error) {
      task.warning(`the incomplete copy ${vmRef} could not be removed: the next run removes it`, {
        error: serializeError(error),
      })
    }
  }
}
