// The VM a replica's health check boots (xen-orchestra-backups.md §5.1 "Health check: VM.clone
// (if all disks already on the health-check SR) or VM.copy to it, tag, boot test, destroy"; §6
// `cloning-vm` / `copying-vm`): never the replica itself, whose start is blocked and which must
// stay as it is, but a disposable clone (cheap, copy-on-write, same SR) or copy (to another SR).
import type { Clock } from '../../shared/clock.ts'
import { systemClock } from '../../shared/clock.ts'
import { errorCode } from '../../shared/errors.ts'
import type { Task } from '../../tasks/task.ts'
import type { XapiClient, XapiRef, XapiValue } from '../../xapi/types.ts'
import type { Leftover } from './disposable-vm.ts'
import { destroyDisposableVm, readOwnedDisks } from './disposable-vm.ts'
import { HealthCheckError } from './health-check-error.ts'
import { callAsyncSettled } from './settled-async-call.ts'
import { HEALTH_CHECK_NO_BAK_TAG, HEALTH_CHECK_TASK } from './vm-health-check.ts'

const NULL_REF = 'OpaqueRef:NULL'

/** The operations a replica blocks (`blocked_operations` start/start_on, reference §5.1) and its clone must not. */
const START_OPERATIONS = ['start', 'start_on'] as const

/** What to clone and where. */
export interface CloneForHealthCheckOptions {
  readonly replicaRef: XapiRef
  /** The health check SR (`healthCheckSr`'s ref). */
  readonly srRef: XapiRef
  readonly signal?: AbortSignal
  /** For the bounded waits after an abort and the cleanup retries; default the system clock. */
  readonly clock?: Clock
}

/** The name of the disposable VM made of a replica. */
export function healthCheckVmName(replicaName: string): string {
  return `${replicaName} - health check`
}

function isRef(value: unknown): value is XapiRef {
  return typeof value === 'string' && value.startsWith('OpaqueRef:') && value !== NULL_REF
}

/**
 * Makes the VM to health-check of a replica, under `task`: a `cloning-vm` task (`VM.clone`) when
 * every disk of the replica is on `srRef`, else `copying-vm` (`VM.copy` to `srRef`); the new VM is
 * named `<replica name> - health check`, tagged `xo:no-bak=Health Check`, and has no blocked
 * start. Returns its ref, to pass to healthCheckVm, which owns it from then on. On failure or
 * abort what was made is destroyed (a clone finishing despite the abort too), and the error is a
 * HEALTH_CHECK_PREPARE_FAILED naming the replica and the SR (XAPI's error as cause), or the abort.
 */
export async function cloneForHealthCheck(
  xapi: XapiClient,
  options: CloneForHealthCheckOptions,
  task: Task,
): Promise<XapiRef> {
  const { replicaRef, srRef } = options
  if (!isRef(replicaRef)) throw prepareInvalid('replicaRef', replicaRef)
  if (!isRef(srRef)) throw prepareInvalid('srRef', srRef)
  const signal = options.signal === undefined ? task.signal : AbortSignal.any([options.signal, task.signal])
  const clock = options.clock ?? systemClock
  const replica = await xapi.getRecord('VM', replicaRef, { signal })
  const disks = await readOwnedDisks(xapi, replica)
  const srs = await Promise.all(disks.map((vdi) => xapi.getRecord('VDI', vdi, { signal })))
  const sameSr = srs.every((vdi) => vdi.SR === srRef)
  const name = healthCheckVmName(replica.name_label)
  const [message, method, args]: [string, string, XapiValue[]] = sameSr
    ? [HEALTH_CHECK_TASK.cloning, 'VM.clone', [replicaRef, name]]
    : [HEALTH_CHECK_TASK.copying, 'VM.copy', [replicaRef, name, srRef]]
  const leftovers: Leftover[] = []
  let madeUuid = ''
  return task.run(
    { message },
    async () => {
      let made: XapiRef | undefined
      try {
        const result = await callAsyncSettled(xapi, method, args, {
          signal,
          clock,
          // Finished despite the abort: nobody else knows this VM, so it goes now.
          onLateSuccess: async (late) => {
            if (isRef(late)) leftovers.push(...(await destroyDisposableVm(xapi, late, { clock })))
          },
        })
        if (!isRef(result)) throw new TypeError(`${method} returned ${JSON.stringify(result)}, not a VM ref`)
        made = result
        madeUuid = await prepareClone(xapi, made, signal)
        return made
      } catch (error) {
        if (made !== undefined) leftovers.push(...(await destroyDisposableVm(xapi, made, { clock })))
        for (const leftover of leftovers)
          task.warning(
            `could not destroy ${leftover.class} ${leftover.uuid || leftover.ref}: ${leftover.reason}`,
          )
        signal.throwIfAborted()
        throw new HealthCheckError(
          'HEALTH_CHECK_PREPARE_FAILED',
          `${method} of replica ${replica.name_label} (${replica.uuid}) for its health check failed: ${error instanceof Error ? error.message : String(error)}`,
          {
            details: {
              vm: replica.uuid,
              name: replica.name_label,
              method,
              xapiCode: errorCode(error) ?? 'unknown',
            },
            cause: error,
          },
        )
      }
    },
    { result: () => ({ vm: madeUuid }) },
  )
}

/**
 * Tags the new VM out of backup jobs and unblocks its start; returns its uuid. XAPI creates clones
 * and copies with no blocked operation (`xapi_vm_clone.ml`); a server that copied the replica's
 * would make the check fail for nothing.
 */
async function prepareClone(xapi: XapiClient, vmRef: XapiRef, signal: AbortSignal): Promise<string> {
  await xapi.call('VM.add_tags', [vmRef, HEALTH_CHECK_NO_BAK_TAG], { signal })
  const record = await xapi.getRecord('VM', vmRef, { signal })
  for (const operation of START_OPERATIONS) {
    if (Object.hasOwn(record.blocked_operations, operation))
      await xapi.call('VM.remove_from_blocked_operations', [vmRef, operation], { signal })
  }
  return record.uuid
}

function prepareInvalid(field: string, got: unknown): HealthCheckError {
  const shown = typeof got === 'string' ? JSON.stringify(got) : String(got)
  return new HealthCheckError(
    'HEALTH_CHECK_OPTION_INVALID',
    `health check of a replica: ${field}: expected an OpaqueRef, got ${shown}`,
    { details: { field, got: shown } },
  )
}
