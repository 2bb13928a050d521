/** A XAPI error to inject: `nth` is 1-based among later calls of the method (default: the next one). */
export interface InjectedFault {
  readonly nth?: number
  readonly code: string
  readonly params?: readonly string[]
}

/** The HTTP data handlers a data fault can target. */
export type DataFaultPath = '/export' | '/import' | '/export_raw_vdi' | '/import_raw_vdi'

/** The data faults armed for the next request of one handler (all one-shot). */
export interface DataFaults {
  /** Close the connection once this many body bytes went through (download or upload). */
  readonly cutAfterBytes?: number
  /** Flip every bit of the body byte at this offset (the chunk holding it is corrupt). */
  readonly corruptAtByte?: number
  /** Let at most this many body bytes per second through. */
  readonly bytesPerSecond?: number
  /** Fail the handler's task with this error once the body is complete. */
  readonly failAtEnd?: InjectedFault
}

/** Faults configured per test (issue 4 scope 5). Method names are wire names (`VM.snapshot`, `Async.VM.snapshot`). */
export interface FaultInjector {
  /** The nth later call of `method` answers with this XAPI error instead of running. */
  failCall(method: string, fault: InjectedFault): void
  /** Every later call of `method` (or of any method for '*') waits `ms` first; for Async calls the task waits. */
  addLatency(method: string, ms: number): void
  /** The nth later call of `method` is not run and its socket is destroyed without an answer. */
  dropConnection(method: string, options?: { nth?: number }): void
  /** Every live session becomes invalid (later calls fail with SESSION_INVALID). */
  expireSessions(): void
  /** The nth later `Async.<method>` task ends in failure with this error, without running the method. */
  failTask(method: string, fault: InjectedFault): void
  /** The next request of `path` has its body cut after `afterBytes` bytes (the task fails). */
  cutStream(path: DataFaultPath, afterBytes: number): void
  /** The next request of `path` has the body byte at `atByte` inverted (a corrupt chunk). */
  corruptStream(path: DataFaultPath, atByte: number): void
  /** The next request of `path` moves its body at `bytesPerSecond` at most. */
  slowStream(path: DataFaultPath, bytesPerSecond: number): void
  /** The next request of `path` completes its body, then its task fails with `fault`. */
  failTaskAtEnd(path: DataFaultPath, fault: InjectedFault): void
  /** Removes every configured fault. */
  reset(): void
}

/** What the dispatcher must do for one call, decided by the configured faults. */
export type FaultDecision =
  | { readonly kind: 'none' }
  | { readonly kind: 'fail'; readonly code: string; readonly params: readonly string[] }
  | { readonly kind: 'drop' }

interface CountedRule<T> {
  readonly method: string
  remaining: number
  readonly payload: T
}

function takeCounted<T>(rules: CountedRule<T>[], method: string): T | undefined {
  const index = rules.findIndex((rule) => rule.method === method)
  if (index === -1) return undefined
  for (const rule of rules.filter((r) => r.method === method)) rule.remaining -= 1
  const firing = rules.findIndex((rule) => rule.method === method && rule.remaining <= 0)
  if (firing === -1) return undefined
  const [rule] = rules.splice(firing, 1)
  return rule?.payload
}

/** The fault registry behind `RunningSimulator.faults`; the dispatcher consults it on every call. */
export class FaultRegistry implements FaultInjector {
  private readonly callFaults: CountedRule<InjectedFault>[] = []
  private readonly taskFaults: CountedRule<InjectedFault>[] = []
  private readonly drops: CountedRule<true>[] = []
  private readonly latencies = new Map<string, number>()
  private readonly dataFaults = new Map<DataFaultPath, DataFaults>()
  private readonly onExpireSessions: () => void

  constructor(onExpireSessions: () => void) {
    this.onExpireSessions = onExpireSessions
  }

  failCall(method: string, fault: InjectedFault): void {
    this.callFaults.push({ method, remaining: fault.nth ?? 1, payload: fault })
  }

  addLatency(method: string, ms: number): void {
    this.latencies.set(method, ms)
  }

  dropConnection(method: string, options: { nth?: number } = {}): void {
    this.drops.push({ method, remaining: options.nth ?? 1, payload: true })
  }

  expireSessions(): void {
    this.onExpireSessions()
  }

  failTask(method: string, fault: InjectedFault): void {
    this.taskFaults.push({ method, remaining: fault.nth ?? 1, payload: fault })
  }

  cutStream(path: DataFaultPath, afterBytes: number): void {
    this.armData(path, { cutAfterBytes: afterBytes })
  }

  corruptStream(path: DataFaultPath, atByte: number): void {
    this.armData(path, { corruptAtByte: atByte })
  }

  slowStream(path: DataFaultPath, bytesPerSecond: number): void {
    this.armData(path, { bytesPerSecond })
  }

  failTaskAtEnd(path: DataFaultPath, fault: InjectedFault): void {
    this.armData(path, { failAtEnd: fault })
  }

  /** Takes (disarms) the data faults armed for the next request of `path`. */
  takeDataFaults(path: DataFaultPath): DataFaults {
    const faults = this.dataFaults.get(path) ?? {}
    this.dataFaults.delete(path)
    return faults
  }

  reset(): void {
    this.dataFaults.clear()
    this.callFaults.length = 0
    this.taskFaults.length = 0
    this.drops.length = 0
    this.latencies.clear()
  }

  private armData(path: DataFaultPath, fault: DataFaults): void {
    this.dataFaults.set(path, { ...this.dataFaults.get(path), ...fault })
  }

  /** Counts one call of wire method `method` and says whether a drop or an error fires for it. */
  decideCall(method: string): FaultDecision {
    if (takeCounted(this.drops, method) !== undefined) return { kind: 'drop' }
    const fault = takeCounted(this.callFaults, method)
    return fault === undefined
      ? { kind: 'none' }
      : { kind: 'fail', code: fault.code, params: fault.params ?? [] }
  }

  /** Counts one Async call of `method` (without prefix) and returns the failure its task must end with, if any. */
  decideTask(method: string): InjectedFault | undefined {
    return takeCounted(this.taskFaults, method)
  }

  /** The latency for a call of `wireName` (exact name first, then the name without `Async.`, then '*'). */
  latencyMs(wireName: string, baseName: string): number {
    return this.latencies.get(wireName) ?? this.latencies.get(baseName) ?? this.latencies.get('*') ?? 0
  }
}
