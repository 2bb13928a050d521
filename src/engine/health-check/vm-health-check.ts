// The boot test of a health check (xen-orchestra-backups.md §1.2 healthCheckTimeout, §5.1, §6;
// xapi.md §2.6, §8.6): a disposable VM (a restored backup, a clone or copy of a replica) is tagged
// so no backup job picks it up, loses its VIFs (it boots without networks: a copy of a production
// VM must never appear on its network), is started, and passes once Running with PV drivers
// reported, all within the timeout. Whatever happens then — success, timeout, XAPI error, abort —
// the VM and every disk it held are destroyed, so nothing is left on the SR.
import type { Clock } from '../../shared/clock.ts'
import { errorCode } from '../../shared/errors.ts'
import type { Task } from '../../tasks/task.ts'
import type { VmRecord, XapiClient, XapiRef } from '../../xapi/types.ts'
import { withSignal } from '../vm-run/deadline.ts'
import type { Leftover } from './disposable-vm.ts'
import { destroyDisposableVm, readOwnedDisks } from './disposable-vm.ts'
import type { GuestToolsPhase, StaleMetrics, WatchedVm } from './guest-tools-wait.ts'
import { waitForGuestTools } from './guest-tools-wait.ts'
import { HealthCheckError, formatBudget } from './health-check-error.ts'
import { callAsyncSettled } from './settled-async-call.ts'

const NULL_REF = 'OpaqueRef:NULL'

/** The task names of the health check tree (reference §6): `health check` → (`transfer` | `cloning-vm` | `copying-vm`), `vmstart`. */
export const HEALTH_CHECK_TASK = {
  healthCheck: 'health check',
  vmStart: 'vmstart',
  cloning: 'cloning-vm',
  copying: 'copying-vm',
} as const

/** The tag that keeps the disposable VM out of every backup job while it exists (reference §1.5). */
export const HEALTH_CHECK_NO_BAK_TAG = 'xo:no-bak=Health Check'

/** The info of the `vmstart` task once the VM runs and its guest tools are awaited. */
export const RUNNING_INFO = 'the VM is running; waiting for its guest tools'

/** What every health check needs: its budget (`healthCheckTimeout`, ms), the clock it runs on, an abort signal. */
export interface HealthCheckBudget {
  readonly timeoutMs: number
  readonly clock: Clock
  readonly signal: AbortSignal
}

/**
 * The VM to check: `vmRef`, already made; or `makeVm`, run inside the `health check` task so that
 * its own task (`transfer` of a restore, `cloning-vm`/`copying-vm`) sits where the reference
 * puts it. Either way the VM becomes this module's, which destroys it; a `makeVm` that fails
 * must destroy what it made itself.
 */
export type HealthCheckVmOptions = HealthCheckBudget &
  (
    | { readonly vmRef: XapiRef; readonly makeVm?: undefined }
    | { readonly makeVm: (task: Task) => Promise<XapiRef>; readonly vmRef?: undefined }
  )

/** A passed health check: the checked VM's uuid (now destroyed) and the time from `VM.start` to its PV drivers. */
export interface HealthCheckResult {
  readonly vm: string
  readonly durationMs: number
}

function invalidOption(field: string, expected: string, got: unknown): HealthCheckError {
  const shown = typeof got === 'string' ? JSON.stringify(got) : String(got)
  return new HealthCheckError(
    'HEALTH_CHECK_OPTION_INVALID',
    `health check: ${field}: expected ${expected}, got ${shown}`,
    { details: { field, expected, got: shown } },
  )
}

function checkRef(field: string, ref: unknown): XapiRef {
  if (typeof ref !== 'string' || !ref.startsWith('OpaqueRef:') || ref === NULL_REF)
    throw invalidOption(field, 'a VM OpaqueRef', ref)
  return ref
}

/**
 * Runs a health check under `task`: a `health check` task (the VM made there by `makeVm`, if
 * given) with a `vmstart` child, ending with `{ vm, durationMs }` or the failure: HEALTH_CHECK_TIMEOUT,
 * HEALTH_CHECK_START_FAILED, HEALTH_CHECK_VM_STOPPED, HEALTH_CHECK_VM_REFUSED (a VM that is not
 * a halted plain VM — left untouched), an XAPI error, or the abort of `signal`/`task.signal`.
 * The VM and its disks are destroyed in every case but a refusal; what cannot be is named in
 * warnings, and fails an otherwise passed check with HEALTH_CHECK_CLEANUP_FAILED.
 */
export async function healthCheckVm(
  xapi: XapiClient,
  options: HealthCheckVmOptions,
  task: Task,
): Promise<HealthCheckResult> {
  const { timeoutMs } = options
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0)
    throw invalidOption('timeoutMs', 'a positive number of milliseconds', timeoutMs)
  const given = options.vmRef === undefined ? undefined : checkRef('vmRef', options.vmRef)
  const signal = AbortSignal.any([options.signal, task.signal])
  return task.run({ message: HEALTH_CHECK_TASK.healthCheck }, async (hc) => {
    const child = withSignal(hc, signal)
    const vmRef = given ?? checkRef('the ref makeVm returned', await options.makeVm?.(child))
    return checkDisposableVm(xapi, vmRef, { ...options, signal }, child)
  })
}

function refusal(record: VmRecord): string | undefined {
  if (record.is_control_domain) return 'it is a control domain'
  if (record.is_a_snapshot) return 'it is a snapshot'
  if (record.is_a_template) return 'it is a template'
  if (record.power_state !== 'Halted') return `it is ${record.power_state}, not Halted`
  return undefined
}

async function checkDisposableVm(
  xapi: XapiClient,
  vmRef: XapiRef,
  options: HealthCheckBudget,
  hc: Task,
): Promise<HealthCheckResult> {
  const { signal, clock } = options
  // Read without the signal: a VM is destroyed only once known to be a disposable one, and an
  // early abort must not leave a VM that was handed over to be destroyed.
  let record: VmRecord
  try {
    record = await xapi.getRecord('VM', vmRef)
  } catch (error) {
    if (errorCode(error) !== 'HANDLE_INVALID')
      hc.warning(`the VM ${vmRef} to health-check could not be read, so it was not destroyed`, { ref: vmRef })
    throw error
  }
  const vm: WatchedVm = { ref: vmRef, uuid: record.uuid, name: record.name_label }
  const refused = refusal(record)
  if (refused !== undefined) {
    // Surely not a VM made for this check: destroying it could destroy a user's VM.
    throw new HealthCheckError(
      'HEALTH_CHECK_VM_REFUSED',
      `${vm.name} (${vm.uuid}) is not a disposable VM to health-check: ${refused}; left untouched`,
      { details: { vm: vm.uuid, name: vm.name, reason: refused } },
    )
  }
  let knownDisks: XapiRef[] = []
  let result: HealthCheckResult
  try {
    knownDisks = await readOwnedDisks(xapi, record)
    await xapi.call('VM.add_tags', [vmRef, HEALTH_CHECK_NO_BAK_TAG], { signal })
    for (const vif of record.VIFs) {
      await xapi.call('VIF.destroy', [vif], { signal }).catch((error: unknown) => {
        if (errorCode(error) !== 'HANDLE_INVALID') throw error
      })
    }
    const stale = await staleMetrics(xapi, record, signal)
    result = await hc.run({ message: HEALTH_CHECK_TASK.vmStart }, (task) =>
      bootAndWait(xapi, vm, { ...options, stale }, task),
    )
  } catch (error) {
    reportLeftovers(hc, await destroyDisposableVm(xapi, vmRef, { clock, knownDisks }))
    signal.throwIfAborted()
    throw error
  }
  const leftovers = await destroyDisposableVm(xapi, vmRef, { clock, knownDisks })
  if (leftovers.length > 0) {
    reportLeftovers(hc, leftovers)
    throw new HealthCheckError(
      'HEALTH_CHECK_CLEANUP_FAILED',
      `the health check of ${result.vm} passed but left ${leftovers.map(describe).join('; ')}`,
      { details: { vm: result.vm, leftovers: leftovers.map((l) => ({ ...l })) } },
    )
  }
  return result
}

function describe(leftover: Leftover): string {
  return `${leftover.class} ${leftover.uuid === '' ? leftover.ref : leftover.uuid} (${leftover.reason})`
}

function reportLeftovers(task: Task, leftovers: readonly Leftover[]): void {
  for (const leftover of leftovers) {
    task.warning(`the health check could not destroy ${describe(leftover)}`, {
      class: leftover.class,
      uuid: leftover.uuid,
      ref: leftover.ref,
      reason: leftover.reason,
    })
  }
}

/** The VM's guest metrics before its start, if any (copied by a clone, they predate this boot). */
async function staleMetrics(
  xapi: XapiClient,
  record: VmRecord,
  signal: AbortSignal,
): Promise<StaleMetrics | undefined> {
  const ref = record.guest_metrics
  if (ref === NULL_REF || ref === '') return undefined
  try {
    const lastUpdated = await xapi.call('VM_guest_metrics.get_last_updated', [ref], { signal })
    return { ref, lastUpdated: typeof lastUpdated === 'string' ? lastUpdated : JSON.stringify(lastUpdated) }
  } catch (error) {
    if (errorCode(error) === 'HANDLE_INVALID') return undefined
    throw error
  }
}

interface BootOptions extends HealthCheckBudget {
  readonly stale: StaleMetrics | undefined
}

/** `VM.start`, then the wait for the guest tools, under one deadline of `timeoutMs` on the clock. */
async function bootAndWait(
  xapi: XapiClient,
  vm: WatchedVm,
  options: BootOptions,
  task: Task,
): Promise<HealthCheckResult> {
  const { clock, signal, timeoutMs } = options
  const deadline = new AbortController()
  const stopTimer = new AbortController()
  clock.sleep(timeoutMs, stopTimer.signal).then(
    () => {
      deadline.abort(new Error('healthCheckTimeout reached'))
    },
    () => undefined,
  )
  const both = AbortSignal.any([signal, deadline.signal])
  const startedAt = clock.now()
  let phase: GuestToolsPhase | 'start' = 'start'
  let saidRunning = false
  try {
    try {
      await callAsyncSettled(xapi, 'VM.start', [vm.ref, false, false], { signal: both, clock })
    } catch (error) {
      if (both.aborted) throw error
      throw new HealthCheckError(
        'HEALTH_CHECK_START_FAILED',
        `VM.start of ${vm.name} (${vm.uuid}) failed: ${String(error instanceof Error ? error.message : error)}`,
        {
          details: { vm: vm.uuid, name: vm.name, xapiCode: errorCode(error) ?? 'unknown' },
          cause: error,
        },
      )
    }
    phase = 'not-running'
    await waitForGuestTools(xapi, vm, {
      signal: both,
      clock,
      stale: options.stale,
      onPhase: (seen) => {
        // Said once, so a log shows whether the time went to the boot or to the guest's tools.
        if (seen === 'no-pv-drivers' && !saidRunning) {
          saidRunning = true
          task.info(RUNNING_INFO)
        }
        phase = seen
      },
    })
    const durationMs = clock.now() - startedAt
    task.info('the guest reported its PV drivers', { durationMs })
    return { vm: vm.uuid, durationMs }
  } catch (error) {
    signal.throwIfAborted()
    if (deadline.signal.aborted) throw timedOut(vm, timeoutMs, phase)
    throw error
  } finally {
    stopTimer.abort()
  }
}

function timedOut(vm: WatchedVm, timeoutMs: number, phase: GuestToolsPhase | 'start'): HealthCheckError {
  const within = formatBudget(timeoutMs)
  const what =
    phase === 'start'
      ? `${vm.name} (${vm.uuid}) did not start within ${within}`
      : phase === 'not-running'
        ? `${vm.name} (${vm.uuid}) was not Running within ${within}`
        : `the guest of ${vm.name} (${vm.uuid}) did not report its PV drivers within ${within}`
  return new HealthCheckError('HEALTH_CHECK_TIMEOUT', what, {
    details: { vm: vm.uuid, name: vm.name, timeoutMs, phase },
  })
}
