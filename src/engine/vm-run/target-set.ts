// The targets of one VM run and the rule of reference §7 (`_callWriters`): a target that throws
// is dropped for the rest of the run with a warning naming it and the step; when none is left the
// VM fails with every cause.
import { serializeError } from '../../shared/errors.ts'
import type { Task } from '../../tasks/task.ts'
import type { BackupTarget } from '../backup-target.ts'
import type { TargetFailure } from './vm-run-error.ts'
import { AllTargetsFailedError } from './vm-run-error.ts'

/** A Writer API step, as named in warnings and errors. */
export type TargetStep = 'beforeBackup' | 'checkBaseVdis' | 'prepare' | 'transfer' | 'cleanup' | 'runFull'

/** `remote <id>` / `SR <uuid>`: how a target is named in messages. */
export function targetName(target: BackupTarget): string {
  return `${target.kind} ${target.id}`
}

/** The live targets of a VM run; `task` (the VM's) receives the drop warnings. */
export class TargetSet {
  readonly #all: readonly BackupTarget[]
  readonly #task: Task
  readonly #failures: TargetFailure[] = []
  readonly #dropped = new Set<BackupTarget>()

  constructor(targets: readonly BackupTarget[], task: Task) {
    this.#all = targets
    this.#task = task
  }

  /** Every target given, dropped or not (afterBackup is owed to each). */
  get all(): readonly BackupTarget[] {
    return this.#all
  }

  /** The targets not dropped, in the given order. */
  get live(): readonly BackupTarget[] {
    return this.#all.filter((t) => !this.#dropped.has(t))
  }

  /** True when `target` is still live. */
  isLive(target: BackupTarget): boolean {
    return !this.#dropped.has(target)
  }

  /** Drops `target` (once) with a warning naming it, the step and the error. */
  drop(target: BackupTarget, step: TargetStep, error: unknown): void {
    if (this.#dropped.has(target)) return
    this.#dropped.add(target)
    this.#failures.push({ kind: target.kind, id: target.id, step, error })
    const reason = error instanceof Error ? error.message : String(error)
    this.#task.warning(
      `${targetName(target)} failed at ${step} and is left out of the rest of this VM's run: ${reason}`,
      {
        type: target.kind,
        id: target.id,
        step,
        error: serializeError(error),
      },
    )
  }

  /** Runs `fn` for `target`; a throw drops the target and is rethrown (the step's task fails with it). */
  async attempt<T>(target: BackupTarget, step: TargetStep, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (error) {
      this.drop(target, step, error)
      throw error
    }
  }

  /** Runs `fn` for `target` if live; a throw drops it. Resolves whether `fn` succeeded. */
  async call(target: BackupTarget, step: TargetStep, fn: () => Promise<unknown>): Promise<boolean> {
    if (!this.isLive(target)) return false
    return this.attempt(target, step, fn).then(
      () => true,
      () => false,
    )
  }

  /** Runs `fn` on every live target at once, then asserts one is left. */
  async parallel(step: TargetStep, fn: (target: BackupTarget) => Promise<unknown>): Promise<void> {
    await Promise.all(this.live.map((target) => this.call(target, step, () => fn(target))))
    this.assertSome()
  }

  /** Runs `fn` on each live target in turn (checkBaseVdis edits one shared map), then asserts one is left. */
  async sequential(step: TargetStep, fn: (target: BackupTarget) => Promise<unknown>): Promise<void> {
    for (const target of this.live) await this.call(target, step, () => fn(target))
    this.assertSome()
  }

  /** Throws AllTargetsFailedError with every cause when targets were given and none is live. */
  assertSome(): void {
    if (this.#all.length > 0 && this.live.length === 0) throw new AllTargetsFailedError(this.#failures)
  }
}
