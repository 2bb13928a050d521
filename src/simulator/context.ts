import type { Clock } from '../shared/clock.ts'
import type { SimulatorDb } from './db.ts'
import type { GuestAgents } from './guest-agents.ts'
import type { FaultRegistry } from './faults.ts'
import type { SimulatorStorage } from './storage/simulator-storage.ts'
import type { TaskRunner } from './tasks.ts'
import type { Value, XapiType } from './types.ts'

/** What every method sees: the database, the clock and the simulator's fixed settings. */
export interface SimulatorContext {
  readonly db: SimulatorDb
  readonly clock: Clock
  readonly tasks: TaskRunner
  /** VDI contents and CBT logs (the data plane). */
  readonly storage: SimulatorStorage
  /** Configured faults, including the data-stream ones the HTTP handlers apply. */
  readonly faults: FaultRegistry
  /** Booted guests: how they behave (PV drivers, their delay, health-check answer) and their timers. */
  readonly guests: GuestAgents
  readonly username: string
  readonly password: string
  /** Address of the pool master; logins to another host fail with HOST_IS_SLAVE (xapi.md §1.4). */
  readonly masterAddress: string
  /** Address this server answers as (the master unless the pool says otherwise). */
  readonly hostAddress: string
  /** Every method the dispatcher knows, for `system.listMethods`. */
  readonly methodNames: () => readonly string[]
}

/** A method call in progress: the caller's session, its Async task if any, and an abort signal (task.cancel). */
export interface CallContext extends SimulatorContext {
  readonly session: string
  readonly task: string | undefined
  /** The key of this call in objects' `current_operations` (the Async task, else a fresh ref). */
  readonly operation: string
  readonly signal: AbortSignal
}

/** A parameter of a method signature; one with `default` may be omitted (versioned params, xapi.md §8.1). */
export interface ParamDef {
  readonly name: string
  readonly type: XapiType
  readonly default?: Value
}

/** A wire method: its signature, whether it has an `Async.` form, and its implementation. */
export interface MethodDef {
  readonly name: string
  readonly params: readonly ParamDef[]
  readonly result: XapiType
  /** False for the few methods that take no session (login, system.listMethods). */
  readonly session: boolean
  /** True for side-effecting methods, which have an `Async.` form (xapi.md §1.6). */
  readonly async: boolean
  readonly run: (ctx: CallContext, args: readonly Value[]) => Value | Promise<Value>
  /** The VM operation this call holds in `current_operations` while it runs (xapi.md §2.2 concurrency). */
  readonly lock?: (args: readonly Value[]) => { readonly vm: string; readonly op: string }
}

/** Builds a MethodDef with the common defaults (session required, sync only). */
export function method(
  name: string,
  params: readonly ParamDef[],
  result: XapiType,
  run: MethodDef['run'],
  options: { readonly async?: boolean; readonly session?: boolean; readonly lockVm?: string } = {},
): MethodDef {
  const { lockVm } = options
  return {
    name,
    params,
    result,
    run,
    async: options.async ?? false,
    session: options.session ?? true,
    ...(lockVm === undefined
      ? {}
      : { lock: (args: readonly Value[]) => ({ vm: args[0] as string, op: lockVm }) }),
  }
}

/** Shorthand for a ParamDef. */
export function p(name: string, type: XapiType, dflt?: Value): ParamDef {
  return dflt === undefined ? { name, type } : { name, type, default: dflt }
}
