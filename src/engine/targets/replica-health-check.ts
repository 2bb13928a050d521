// The health check of a replica (xen-orchestra-backups.md §5.1, last lines): a clone (or a copy,
// when its disks are elsewhere) of the replica this run wrote, made on the health-check SR of the
// replica's pool, booted to its guest tools and destroyed (engine/health-check).
import type { Task } from '../../tasks/task.ts'
import type { XapiClient, XapiRef } from '../../xapi/types.ts'
import type { HealthCheckInput } from '../backup-target.ts'
import { cloneForHealthCheck } from '../health-check/replica-health-check.ts'
import { healthCheckVm } from '../health-check/vm-health-check.ts'
import { TargetError } from './target-error.ts'

/**
 * Health-checks `replicaRef` (the replica this run wrote on SR `srUuid`, in `xapi`'s pool) on the
 * SR `input.srUuid` of that pool; TARGET_STATE when this run wrote none, the health check's error
 * when it fails.
 */
export async function checkReplica(
  xapi: XapiClient,
  replicaRef: XapiRef | undefined,
  srUuid: string,
  input: HealthCheckInput,
  task: Task,
): Promise<void> {
  if (replicaRef === undefined)
    throw new TargetError('TARGET_STATE', `SR ${srUuid}: no replica was written by this run to health-check`)
  const srRef = await xapi.getByUuid('SR', input.srUuid, { signal: task.signal })
  await healthCheckVm(
    xapi,
    {
      timeoutMs: input.timeoutMs,
      clock: input.clock,
      signal: task.signal,
      makeVm: (made) => cloneForHealthCheck(xapi, { replicaRef, srRef, clock: input.clock }, made),
    },
    task,
  )
}
