import type { Clock } from '../shared/clock.ts'
import type { SimulatorDb } from './db.ts'
import { recordTypes } from './schema/index.ts'
import type { Value, XapiType } from './types.ts'
import { formatXapiDateTime } from './types.ts'
import { encodeXmlValue } from './wire/value-codec.ts'
import { XapiFault } from './xapi-fault.ts'

/** What an Async task runs: its body gets an abort signal that `task.cancel` fires. */
export interface TaskBody {
  readonly resultType: XapiType
  readonly latencyMs: number
  readonly injectedFault: XapiFault | undefined
  readonly run: (task: string, signal: AbortSignal) => Value | Promise<Value>
  /** Takes the task's object locks before it waits or runs; returns their release (xapi.md §2.2). */
  readonly lock?: (task: string) => () => void
}

/**
 * Creates and completes `task` objects (xapi.md §1.6): pending with progress 0, then success
 * with `result` = the XML-RPC serialisation of the return value (even for JSON-RPC callers),
 * failure with `error_info`, or cancelled with `["TASK_CANCELLED", task]`.
 */
export class TaskRunner {
  private readonly running = new Map<string, AbortController>()
  private readonly db: SimulatorDb
  private readonly clock: Clock
  private readonly host: () => string

  constructor(db: SimulatorDb, clock: Clock, host: () => string) {
    this.db = db
    this.clock = clock
    this.host = host
  }

  /** Creates a pending task record (as `task.create` does) and returns its ref. */
  create(nameLabel: string, nameDescription: string): string {
    return this.db.create('task', {
      name_label: nameLabel,
      name_description: nameDescription,
      allowed_operations: ['cancel'],
      created: formatXapiDateTime(this.clock.now()),
      status: 'pending',
      resident_on: this.host(),
    })
  }

  /** Starts `body` in a new task named `nameLabel` and returns the task ref at once. */
  start(nameLabel: string, body: TaskBody): string {
    const task = this.create(nameLabel, '')
    const controller = new AbortController()
    this.running.set(task, controller)
    void this.execute(task, body, controller.signal).finally(() => this.running.delete(task))
    return task
  }

  /**
   * Lets `task.cancel` abort work running under an existing task (an HTTP handler's `task_id` or
   * its own task): returns the signal it fires and the release to call when the work ends.
   */
  watch(task: string): { readonly signal: AbortSignal; readonly release: () => void } {
    const controller = new AbortController()
    this.running.set(task, controller)
    // Cancelled before its work began (a `task_id` cancelled before the HTTP request came): the work
    // must fail at once, or nothing would ever end the task.
    if (this.db.find('task', task)?.status === 'cancelling')
      controller.abort(new XapiFault('TASK_CANCELLED', [task]))
    const release = (): void => {
      if (this.running.get(task) === controller) this.running.delete(task)
    }
    return { signal: controller.signal, release }
  }

  /** Sets a pending task's `progress` (0..1), which emits a `mod` event. */
  setProgress(task: string, progress: number): void {
    if (this.db.find('task', task)?.status === 'pending') this.db.update('task', task, { progress })
  }

  /** `task.cancel`: marks the task cancelling and aborts its body if it runs here. */
  cancel(task: string, by: string): void {
    const record = this.db.get('task', task)
    if (record.status !== 'pending') {
      throw new XapiFault('OPERATION_NOT_ALLOWED', [
        `task ${task} is not pending (status ${JSON.stringify(record.status)})`,
      ])
    }
    this.db.update('task', task, { status: 'cancelling', current_operations: { [by]: 'cancel' } })
    this.running.get(task)?.abort(new XapiFault('TASK_CANCELLED', [task]))
  }

  /** Aborts every running task body (server shutdown); they end cancelled. */
  close(): void {
    for (const [task, controller] of this.running) controller.abort(new XapiFault('TASK_CANCELLED', [task]))
  }

  /** Ends a pending task with success and an already XML-encoded result (`""` for void). */
  succeed(task: string, encodedResult: string): void {
    this.finish(task, { status: 'success', result: encodedResult })
  }

  /** Ends a pending task with a failure; TASK_CANCELLED makes it `cancelled` (xapi.md §1.6). */
  fail(task: string, fault: XapiFault): void {
    const status = fault.code === 'TASK_CANCELLED' ? 'cancelled' : 'failure'
    this.finish(task, { status, error_info: [fault.code, ...fault.params] })
  }

  private async execute(task: string, body: TaskBody, signal: AbortSignal): Promise<void> {
    let release = (): void => undefined
    let outcome: { encoded: string } | { fault: XapiFault }
    try {
      if (body.lock !== undefined) release = body.lock(task)
      if (body.latencyMs > 0) await this.clock.sleep(body.latencyMs, signal).catch(() => undefined)
      if (isAborted(signal)) throw new XapiFault('TASK_CANCELLED', [task])
      if (body.injectedFault !== undefined) throw body.injectedFault
      const value = await body.run(task, signal)
      if (isAborted(signal)) throw new XapiFault('TASK_CANCELLED', [task])
      outcome = {
        encoded: body.resultType.kind === 'void' ? '' : encodeXmlValue(value, body.resultType, recordTypes),
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      outcome = { fault: error instanceof XapiFault ? error : new XapiFault('INTERNAL_ERROR', [message]) }
    }
    // XAPI clears the object's current_operations before it completes the task.
    release()
    if (this.db.find('task', task) === undefined) return
    if ('fault' in outcome) this.fail(task, outcome.fault)
    else this.succeed(task, outcome.encoded)
  }

  private finish(task: string, patch: Record<string, Value>): void {
    this.db.update('task', task, {
      ...patch,
      progress: 1,
      finished: formatXapiDateTime(this.clock.now()),
      allowed_operations: [],
      current_operations: {},
    })
  }
}

// A function so TypeScript does not narrow `signal.aborted` across awaits.
function isAborted(signal: AbortSignal): boolean {
  return signal.aborted
}
