// Waiting for a booted VM's guest tools (xapi.md §2.6 VM_guest_metrics; reference §5.1 "boot
// test"): the VM must be Running and its current guest metrics must say `PV_drivers_detected`.
// Through `event.from` on the VM itself and on the guest metrics class (a guest's tools change its
// metrics record, not the VM's), with a polling fallback for a server without usable events.
import type { Clock } from '../../shared/clock.ts'
import type { XapiClient, XapiRef, XapiValue } from '../../xapi/types.ts'
import { isXapiErrorCode } from '../../xapi/xapi-error.ts'
import { HealthCheckError } from './health-check-error.ts'

const NULL_REF = 'OpaqueRef:NULL'

/** Polling period when events are unavailable. */
export const POLL_INTERVAL_MS = 2000

/** What the wait saw last, for the message of a timeout. */
export type GuestToolsPhase = 'not-running' | 'no-pv-drivers' | 'ready'

/** Guest metrics the VM had before its start (copied by a clone): they prove nothing about this boot. */
export interface StaleMetrics {
  readonly ref: XapiRef
  readonly lastUpdated: string
}

/** The VM under watch, as named in messages. */
export interface WatchedVm {
  readonly ref: XapiRef
  readonly uuid: string
  readonly name: string
}

/** Options of waitForGuestTools. */
export interface GuestToolsWaitOptions {
  readonly signal: AbortSignal
  readonly clock: Clock
  readonly stale?: StaleMetrics | undefined
  /** Told each phase as it is seen (the last one says where a timeout struck). */
  readonly onPhase?: (phase: GuestToolsPhase) => void
}

type Fields = { readonly [field: string]: XapiValue }

/**
 * The phase of a VM record and a lookup of guest metrics records; throws HEALTH_CHECK_VM_STOPPED
 * when the VM halted or was suspended (its guest will not report anything any more).
 */
export function guestToolsPhase(
  vm: WatchedVm,
  record: Fields,
  metricsOf: (ref: XapiRef) => Fields | undefined,
  stale: StaleMetrics | undefined,
): GuestToolsPhase {
  const power = record.power_state
  if (power === 'Halted' || power === 'Suspended') {
    throw new HealthCheckError(
      'HEALTH_CHECK_VM_STOPPED',
      `${vm.name} (${vm.uuid}) became ${power} while its guest tools were awaited`,
      { details: { vm: vm.uuid, name: vm.name, powerState: power } },
    )
  }
  if (power !== 'Running') return 'not-running'
  const ref = record.guest_metrics
  if (typeof ref !== 'string' || ref === NULL_REF) return 'no-pv-drivers'
  const metrics = metricsOf(ref)
  if (metrics === undefined) return 'no-pv-drivers'
  if (stale !== undefined && ref === stale.ref && metrics.last_updated === stale.lastUpdated)
    return 'no-pv-drivers'
  return metrics.PV_drivers_detected === true ? 'ready' : 'no-pv-drivers'
}

function vanished(vm: WatchedVm): HealthCheckError {
  return new HealthCheckError(
    'HEALTH_CHECK_VM_STOPPED',
    `${vm.name} (${vm.uuid}) was destroyed while its guest tools were awaited`,
    { details: { vm: vm.uuid, name: vm.name } },
  )
}

/**
 * Resolves once `vm` is Running with PV drivers detected in fresh guest metrics; rejects with the
 * signal's reason when it aborts, or HEALTH_CHECK_VM_STOPPED when the VM stops or vanishes.
 */
export async function waitForGuestTools(
  xapi: XapiClient,
  vm: WatchedVm,
  options: GuestToolsWaitOptions,
): Promise<void> {
  try {
    await watch(xapi, vm, options)
  } catch (error) {
    options.signal.throwIfAborted()
    // A server that cannot serve these events to us (xapi.md §1.7): read the records instead.
    if (
      isXapiErrorCode(error, 'MESSAGE_METHOD_UNKNOWN') ||
      isXapiErrorCode(error, 'EVENT_SUBSCRIPTION_PARSE_FAILURE')
    )
      await poll(xapi, vm, options)
    else throw error
  }
}

async function watch(xapi: XapiClient, vm: WatchedVm, options: GuestToolsWaitOptions): Promise<void> {
  const { signal } = options
  const metrics = new Map<XapiRef, Fields>()
  let record: Fields | undefined
  // The first answer holds the current state of both (token ""), so nothing between start and here is missed.
  for await (const event of xapi.watchEvents([`VM/${vm.ref}`, 'VM_guest_metrics'], { signal })) {
    const cls = event.class.toLowerCase()
    if (cls === 'vm' && event.ref === vm.ref) {
      if (event.operation === 'del') throw vanished(vm)
      record = event.snapshot ?? record
    } else if (cls === 'vm_guest_metrics') {
      if (event.operation === 'del') metrics.delete(event.ref)
      else if (event.snapshot !== undefined) metrics.set(event.ref, event.snapshot)
    }
    if (record === undefined) continue
    const phase = guestToolsPhase(vm, record, (ref) => metrics.get(ref), options.stale)
    options.onPhase?.(phase)
    if (phase === 'ready') return
  }
  signal.throwIfAborted()
  throw vanished(vm) // watchEvents only ends on abort
}

async function poll(xapi: XapiClient, vm: WatchedVm, options: GuestToolsWaitOptions): Promise<void> {
  const { signal } = options
  for (;;) {
    let record: Fields
    try {
      record = await xapi.getRecord('VM', vm.ref, { signal })
    } catch (error) {
      if (isXapiErrorCode(error, 'HANDLE_INVALID')) throw vanished(vm)
      throw error
    }
    const ref = record.guest_metrics
    let metrics: Fields | undefined
    if (typeof ref === 'string' && ref !== NULL_REF) {
      const value = await xapi
        .call('VM_guest_metrics.get_record', [ref], { signal })
        .catch((error: unknown) => {
          // Gone between the two reads (the guest rebooted): seen as no metrics this round.
          if (isXapiErrorCode(error, 'HANDLE_INVALID')) return undefined
          throw error
        })
      if (value !== undefined && typeof value === 'object' && !Array.isArray(value)) metrics = value as Fields
    }
    const phase = guestToolsPhase(vm, record, (r) => (r === ref ? metrics : undefined), options.stale)
    options.onPhase?.(phase)
    if (phase === 'ready') return
    await options.clock.sleep(POLL_INTERVAL_MS, signal)
  }
}
