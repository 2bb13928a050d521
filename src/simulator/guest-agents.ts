import type { Clock } from '../shared/clock.ts'
import type { SimulatorDb } from './db.ts'
import { GuestOptionError } from './guest-writes.ts'
import type { GuestBehaviour } from './objects.ts'
import { answerHealthCheck, bootVm } from './objects.ts'

const HEALTH_CHECK_ANSWERS = ['success', 'failure', 'ignore'] as const

/**
 * Checks a partial GuestBehaviour (options.guest, `sim.setGuestBehaviour`): throws GuestOptionError
 * (`SIMULATOR_GUEST_OPTION_INVALID`) naming the first option that does not fit.
 */
export function validateGuestBehaviour(partial: Partial<GuestBehaviour>): void {
  const { pvDrivers, healthCheck, pvDriversDelayMs } = partial
  if (pvDrivers !== undefined && typeof pvDrivers !== 'boolean')
    throw new GuestOptionError('pvDrivers', 'a boolean', pvDrivers)
  if (healthCheck !== undefined && !(HEALTH_CHECK_ANSWERS as readonly unknown[]).includes(healthCheck))
    throw new GuestOptionError('healthCheck', HEALTH_CHECK_ANSWERS.join('|'), healthCheck)
  if (
    pvDriversDelayMs !== undefined &&
    !(typeof pvDriversDelayMs === 'number' && Number.isFinite(pvDriversDelayMs) && pvDriversDelayMs >= 0)
  )
    throw new GuestOptionError('pvDriversDelayMs', 'a number of milliseconds ≥ 0', pvDriversDelayMs)
}

/**
 * The guest agents of booted VMs (xapi.md §8.3 "guest simulation"): how the next booted guests
 * behave, and the pending "tools come up" timers of guests booted with `pvDriversDelayMs` > 0.
 * A timer waits on the simulator's clock, then sets `PV_drivers_detected` (a `mod` of the VM's
 * VM_guest_metrics) and answers the health-check key; it is cancelled when the VM halts or is
 * destroyed and on close, so no timer outlives the simulator.
 */
export class GuestAgents {
  private current: GuestBehaviour
  private readonly pending = new Map<string, AbortController>()
  private readonly db: SimulatorDb
  private readonly clock: Clock

  constructor(db: SimulatorDb, clock: Clock, behaviour: GuestBehaviour) {
    validateGuestBehaviour(behaviour)
    this.db = db
    this.clock = clock
    this.current = behaviour
  }

  /** How guests booted from now on behave. */
  get behaviour(): GuestBehaviour {
    return this.current
  }

  /** Changes how guests booted after this call behave (running guests keep theirs). */
  set(partial: Partial<GuestBehaviour>): void {
    validateGuestBehaviour(partial)
    this.current = { ...this.current, ...partial }
  }

  /** Boots a halted `vm` on `host` with the current behaviour; tools come later when delayed. */
  boot(vm: string, host: string): void {
    const guest = this.current
    const delayed = guest.pvDrivers && guest.pvDriversDelayMs > 0
    this.stop(vm)
    bootVm(this.db, vm, host, this.clock.now(), delayed ? { ...guest, pvDrivers: false } : guest, !delayed)
    if (delayed) this.schedule(vm, guest)
  }

  /** Cancels the pending tools timer of `vm` (it halts or goes away); harmless when none. */
  stop(vm: string): void {
    this.pending.get(vm)?.abort()
    this.pending.delete(vm)
  }

  /** Cancels every pending timer (the simulator closes). */
  stopAll(): void {
    for (const controller of this.pending.values()) controller.abort()
    this.pending.clear()
  }

  /** VMs whose tools are still to come, for tests. */
  get pendingCount(): number {
    return this.pending.size
  }

  private schedule(vm: string, guest: GuestBehaviour): void {
    const controller = new AbortController()
    this.pending.set(vm, controller)
    const metrics = this.db.get('VM', vm).guest_metrics as string
    const fire = (): void => {
      if (this.pending.get(vm) !== controller) return
      this.pending.delete(vm)
      const record = this.db.find('VM', vm)
      // The boot this timer belongs to must still be the VM's current one.
      if (record?.power_state !== 'Running' || record.guest_metrics !== metrics) return
      if (this.db.find('VM_guest_metrics', metrics) === undefined) return
      this.db.update('VM_guest_metrics', metrics, { PV_drivers_detected: true })
      answerHealthCheck(this.db, vm, guest)
    }
    this.clock
      .sleep(guest.pvDriversDelayMs, controller.signal)
      // A test clock's sleep returns at once: let the caller's reply go out before the tools come.
      .then(() => new Promise((resolve) => setImmediate(resolve)))
      .then(fire, () => undefined)
  }
}
