// `vmTimeout` (ms, 0 = none), which XO declares and never enforces (reference §12.1): the run's
// main phase gets a signal that aborts when the time is up (or when the VM task's own signal
// does); the final phase (restart, snapshot retention, migration unblock, afterBackup) runs
// without it, so an abort never leaves a VM down, pinned or locked.
import type { Clock } from '../../shared/clock.ts'
import type { Task } from '../../tasks/task.ts'
import { VmRunError } from './vm-run-error.ts'

/** The main phase's abort signal and whether it fired because of vmTimeout. */
export interface Deadline {
  readonly signal: AbortSignal
  /** The VM_RUN_TIMEOUT error once the time is up, else undefined. */
  readonly expired: VmRunError | undefined
  /** Stops the timer (the main phase is over). */
  stop(): void
}

/**
 * Starts the `vmTimeoutMs` timer on `clock` (0: none). When it fires, `signal` aborts with a
 * VM_RUN_TIMEOUT error naming the VM and `step()` (the step running then).
 */
export function startDeadline(
  parent: AbortSignal,
  vmTimeoutMs: number,
  clock: Clock,
  about: { readonly vmUuid: string; readonly step: () => string },
): Deadline {
  const timeout = new AbortController()
  const stopper = new AbortController()
  let expired: VmRunError | undefined
  if (vmTimeoutMs > 0) {
    clock.sleep(vmTimeoutMs, stopper.signal).then(
      () => {
        if (stopper.signal.aborted) return
        const step = about.step()
        expired = new VmRunError(
          'VM_RUN_TIMEOUT',
          `the backup of VM ${about.vmUuid} exceeded vmTimeout (${vmTimeoutMs} ms) during ${step}: aborted`,
          { details: { vm: about.vmUuid, vmTimeoutMs, step } },
        )
        timeout.abort(expired)
      },
      () => undefined,
    )
  }
  return {
    signal: AbortSignal.any([parent, timeout.signal]),
    get expired() {
      return expired
    },
    stop() {
      stopper.abort()
    },
  }
}

/**
 * `task` with `signal` instead of its own, for it and every task it starts: the targets and
 * sources of the main phase see the deadline through `task.signal` (Task.run gives children the
 * parent's signal, which the VM task's caller owns).
 */
export function withSignal(task: Task, signal: AbortSignal): Task {
  return {
    id: task.id,
    signal,
    info: (message, data) => {
      task.info(message, data)
    },
    warning: (message, data) => {
      task.warning(message, data)
    },
    progress: (done, total) => {
      task.progress(done, total)
    },
    run: (properties, fn, options) =>
      task.run(
        properties,
        (child) => {
          signal.throwIfAborted()
          return fn(withSignal(child, signal))
        },
        options,
      ),
  }
}
