import type { CallContext, MethodDef, SimulatorContext } from './context.ts'
import type { FaultRegistry } from './faults.ts'
import { constructorRecordTypes, recordTypes } from './schema/index.ts'
import type { TaskRunner } from './tasks.ts'
import { newRef } from './db.ts'
import { acquireVmOperation } from './methods/vm-checks.ts'
import type { Value, XapiType } from './types.ts'
import { t } from './types.ts'
import type { WireValue } from './wire/value-codec.ts'
import { coerceValue } from './wire/value-codec.ts'
import type { RpcCall } from './wire/xmlrpc.ts'
import { XapiFault } from './xapi-fault.ts'

/** The outcome of one RPC: a typed value, a XAPI error, or "drop the connection" (fault injection). */
export type DispatchResult =
  | { readonly kind: 'value'; readonly value: Value; readonly type: XapiType }
  | { readonly kind: 'fault'; readonly code: string; readonly params: readonly string[] }
  | { readonly kind: 'drop' }

const ASYNC_PREFIX = 'Async.'

/**
 * Routes a decoded call to its method in XAPI's order (xapi.md §1.4, `gen_server.ml`): unknown
 * method → session check then `MESSAGE_METHOD_UNKNOWN`; known method → arity
 * (`MESSAGE_PARAMETER_COUNT_MISMATCH [method, expected, received]`), unmarshalling, session
 * check (`SESSION_INVALID`), then the sync run or an `Async.` task.
 */
export class Dispatcher {
  private readonly ctx: SimulatorContext
  private readonly methods: ReadonlyMap<string, MethodDef>
  private readonly faults: FaultRegistry
  private readonly tasks: TaskRunner
  private readonly shutdown = new AbortController()

  constructor(
    ctx: SimulatorContext,
    methods: ReadonlyMap<string, MethodDef>,
    faults: FaultRegistry,
    tasks: TaskRunner,
  ) {
    this.ctx = ctx
    this.methods = methods
    this.faults = faults
    this.tasks = tasks
  }

  /** Wakes every blocked call (event.from, latency) and aborts running tasks, for server shutdown. */
  close(): void {
    this.shutdown.abort()
    this.tasks.close()
  }

  /** Runs one call; never throws for API errors (they become `fault` results). */
  async dispatch(call: RpcCall): Promise<DispatchResult> {
    const decision = this.faults.decideCall(call.method)
    if (decision.kind === 'drop') return decision
    if (decision.kind === 'fail') return { kind: 'fault', code: decision.code, params: decision.params }
    try {
      return await this.run(call)
    } catch (error) {
      if (error instanceof XapiFault) return { kind: 'fault', code: error.code, params: error.params }
      return {
        kind: 'fault',
        code: 'INTERNAL_ERROR',
        params: [error instanceof Error ? error.message : String(error)],
      }
    }
  }

  private async run(call: RpcCall): Promise<DispatchResult> {
    const isAsync = call.method.startsWith(ASYNC_PREFIX)
    const name = isAsync ? call.method.slice(ASYNC_PREFIX.length) : call.method
    const def = this.methods.get(name)
    if (def === undefined) {
      const session = call.params[0]
      if (typeof session === 'string') this.checkSession(session)
      throw new XapiFault('MESSAGE_METHOD_UNKNOWN', [call.method])
    }
    const args = def.session ? call.params.slice(1) : call.params
    const mandatory = def.params.filter((param) => param.default === undefined).length
    if (
      (def.session && call.params.length === 0) ||
      args.length < mandatory ||
      args.length > def.params.length
    ) {
      throw new XapiFault('MESSAGE_PARAMETER_COUNT_MISMATCH', [name, String(mandatory), String(args.length)])
    }
    if (isAsync && !def.async) {
      throw new XapiFault('Fault', [`No async mode for this operation (rpc: ${call.method})`])
    }
    const values = def.params.map((param, i) => {
      const given: WireValue | undefined = args[i]
      return given === undefined
        ? (param.default as Value)
        : // Record parameters are constructor records: only the fields `create` reads are unmarshalled.
          coerceValue(given, param.type, param.name, constructorRecordTypes)
    })
    const session = def.session
      ? coerceValue(call.params[0] as WireValue, t.string, 'session_id', recordTypes)
      : ''
    if (def.session) this.checkSession(session as string)
    const latencyMs = this.faults.latencyMs(call.method, name)
    if (isAsync)
      return {
        kind: 'value',
        value: this.startTask(def, session as string, values, latencyMs),
        type: t.ref('task'),
      }
    const operation = newRef()
    const release = this.lock(def, values, operation)
    try {
      if (latencyMs > 0) await this.ctx.clock.sleep(latencyMs, this.shutdown.signal)
      const ctx: CallContext = {
        ...this.ctx,
        session: session as string,
        task: undefined,
        operation,
        signal: this.shutdown.signal,
      }
      return { kind: 'value', value: await def.run(ctx, values), type: def.result }
    } finally {
      release()
    }
  }

  private lock(def: MethodDef, values: readonly Value[], operation: string): () => void {
    if (def.lock === undefined) return () => undefined
    const { vm, op } = def.lock(values)
    return acquireVmOperation(this.ctx.db, vm, op, operation)
  }

  private startTask(def: MethodDef, session: string, values: readonly Value[], latencyMs: number): string {
    const injected = this.faults.decideTask(def.name)
    return this.tasks.start(`${ASYNC_PREFIX}${def.name}`, {
      resultType: def.result,
      latencyMs,
      injectedFault: injected === undefined ? undefined : new XapiFault(injected.code, injected.params ?? []),
      run: (task, signal) => def.run({ ...this.ctx, session, task, operation: task, signal }, values),
      lock: (task) => this.lock(def, values, task),
    })
  }

  private checkSession(session: string): void {
    if (this.ctx.db.find('session', session) === undefined) throw new XapiFault('SESSION_INVALID', [session])
  }
}
