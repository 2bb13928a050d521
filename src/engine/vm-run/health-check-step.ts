// The health check after a VM's export (xen-orchestra-backups.md §1.2, §6): when the VM's settings
// name a health-check SR and its tags select it, each target that exported it checks what it
// wrote (a restored backup, a clone of the replica) boots to its guest tools; the VM run fails
// when one does not, after every target was checked.
import type { Clock } from '../../shared/clock.ts'
import type { Task } from '../../tasks/task.ts'
import type { VmRecord, XapiClient } from '../../xapi/types.ts'
import type { VmRunContext } from '../backup-target.ts'
import { selectForHealthCheck } from '../health-check/health-check-selection.ts'
import { HEALTH_CHECK_TASK } from '../health-check/vm-health-check.ts'
import type { VmBackupSettings } from '../settings-schema.ts'
import type { TargetSet } from './target-set.ts'
import { targetName } from './target-set.ts'
import { VmRunError } from './vm-run-error.ts'

/** What the health check step needs. */
export interface HealthCheckStepInput {
  readonly xapi: XapiClient
  readonly vm: VmRecord
  readonly settings: VmBackupSettings
  readonly targets: TargetSet
  readonly context: VmRunContext
  readonly clock: Clock
}

/**
 * Runs the health check of every live target that can make one, one after the other (each boots
 * a VM); logs why a VM is not checked when its tags leave it out; throws VM_HEALTH_CHECK_FAILED
 * naming each failed target (causes attached) once all were tried.
 */
export async function healthCheckStep(input: HealthCheckStepInput, task: Task): Promise<void> {
  const decision = selectForHealthCheck(input.vm.tags, input.settings)
  if (!decision.check) {
    // No SR set is the common case: XO logs nothing for it; else, as XO, a `health check` task says why.
    if (decision.skip !== 'no-sr')
      await task.run({ message: HEALTH_CHECK_TASK.healthCheck }, (check) => {
        check.info(decision.reason, { vm: input.vm.uuid })
        return Promise.resolve()
      })
    return
  }
  const failures: { readonly target: string; readonly error: unknown }[] = []
  for (const target of input.targets.live) {
    if (target.healthCheck === undefined) continue
    try {
      await target.healthCheck(
        input.context,
        {
          srUuid: decision.srUuid,
          timeoutMs: input.settings.healthCheckTimeout,
          clock: input.clock,
          sourceXapi: input.xapi,
        },
        task,
      )
    } catch (error) {
      task.signal.throwIfAborted()
      failures.push({ target: targetName(target), error })
    }
  }
  if (failures.length > 0)
    throw new VmRunError(
      'VM_HEALTH_CHECK_FAILED',
      `health check failed for ${failures
        .map((f) => `${f.target}: ${f.error instanceof Error ? f.error.message : String(f.error)}`)
        .join('; ')}`,
      {
        cause: failures.length === 1 ? failures[0]?.error : new AggregateError(failures.map((f) => f.error)),
      },
    )
}
