// The delta export of one VM to every live target (xen-orchestra-backups.md §3.2 `_copy`, §7 call
// order): each target's `export` task holds its prepare, transfer and cleanup; the transfers run
// at once, each reading its own fan-out view of one export per disk (the slowest target paces the
// source); the snapshot is marked exported after every transfer settled and before any cleanup.
import type { BlockSource } from '../../formats/block-source.ts'
import { STEP } from '../../tasks/events.ts'
import type { Task } from '../../tasks/task.ts'
import type { VbdRecord, VdiRecord, VmRecord, XapiClient, XapiRef } from '../../xapi/types.ts'
import type { BackupTarget, DeltaExport, ExportedVif, VmRunContext } from '../backup-target.ts'
import type { FanOut } from '../fan-out.ts'
import { fanOutBlockSource } from '../fan-out.ts'
import type { RateLimiter } from '../rate-limit.ts'
import type { VdiExportHandle, VmRunSources } from './sources.ts'
import { abortableSource } from './sources.ts'
import type { TargetSet } from './target-set.ts'
import { targetName } from './target-set.ts'
import { VmRunError } from './vm-run-error.ts'

/** One disk to export: the snapshot VDI, its live VDI, and the base it is a delta over (if any). */
export interface DeltaDiskToExport {
  readonly snapshotVdiRef: XapiRef
  readonly liveVdiUuid: string
  readonly base: { readonly ref: XapiRef; readonly uuid: string } | undefined
}

/** What exportDelta needs. */
export interface DeltaExportInput {
  readonly xapi: XapiClient
  readonly sources: VmRunSources
  readonly rateLimiter: RateLimiter | undefined
  readonly signal: AbortSignal
  readonly targets: TargetSet
  readonly context: VmRunContext
  readonly records: {
    readonly vmSnapshot: VmRecord
    readonly vbds: Readonly<Record<string, VbdRecord>>
    readonly vdis: Readonly<Record<string, VdiRecord>>
    readonly vifs: Readonly<Record<string, ExportedVif>>
  }
  readonly disks: readonly DeltaDiskToExport[]
  /** Called once every transfer settled and at least one succeeded, before any cleanup (marks the snapshot). */
  readonly onTransferred: () => Promise<void>
}

interface Gate<T> {
  readonly promise: Promise<T>
  resolve(value: T): void
  reject(error: unknown): void
}

function gate<T>(): Gate<T> {
  let resolve: (value: T) => void = () => undefined
  let reject: (error: unknown) => void = () => undefined
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  // A gate nobody waits on any more may be rejected: that must not be an unhandled rejection.
  promise.catch(() => undefined)
  return { promise, resolve, reject }
}

/**
 * Runs the delta export on every live target; a target failing at prepare, transfer or cleanup
 * is dropped (TargetSet). Throws the source's error when an export cannot be opened or its XAPI
 * task failed, the marking's error, or AllTargetsFailedError when no target transferred.
 */
export async function exportDelta(input: DeltaExportInput, task: Task): Promise<void> {
  const { targets, context, disks } = input
  const live = targets.live
  const isFull = disks.some((d) => d.base === undefined)
  const exportsReady = gate<readonly DeltaExport[]>()
  const marked = gate<undefined>()
  const prepared = live.map(() => gate<undefined>())
  const transferred = live.map(() => gate<boolean>())
  let fans: FanOut<BlockSource>[] = []
  const leave = (index: number): void => {
    for (const fan of fans) fan.drop(index)
  }

  const runOne = async (target: BackupTarget, index: number, exportTask: Task): Promise<void> => {
    let ready = false
    try {
      await targets.attempt(target, 'prepare', async () => {
        await target.prepare?.(context, { isFull }, exportTask)
      })
      ready = true
    } finally {
      prepared[index]?.resolve(undefined)
      if (!ready) transferred[index]?.resolve(false)
    }
    let done = false
    try {
      const views = await exportsReady.promise
      await targets.attempt(target, 'transfer', async () => {
        if (target.transfer === undefined)
          throw new VmRunError(
            'VM_TARGET_UNSUPPORTED',
            `${targetName(target)} has no transfer: it cannot take a delta backup`,
          )
        await target.transfer(context, views[index] as DeltaExport, exportTask)
      })
      done = true
    } finally {
      leave(index)
      transferred[index]?.resolve(done)
    }
    await marked.promise
    await targets.attempt(target, 'cleanup', async () => {
      await target.cleanup?.(context, exportTask)
    })
  }
  const runs = Promise.allSettled(
    live.map((target, index) =>
      task.run({ message: STEP.export, data: { type: target.kind, id: target.id, isFull } }, (exportTask) =>
        runOne(target, index, exportTask),
      ),
    ),
  )

  const opened: VdiExportHandle[] = []
  const complete = new Set<number>()
  let failure: { readonly error: unknown } | undefined
  try {
    await Promise.all(prepared.map((g) => g.promise))
    if (targets.live.length > 0) {
      try {
        for (const disk of disks)
          opened.push(await input.sources.openVdiExport(input.xapi, request(input, disk)))
      } catch (error) {
        failure = { error }
        exportsReady.reject(error)
      }
    }
    if (failure === undefined) {
      fans = opened.map((source, k) =>
        fanOutBlockSource(
          abortableSource(source, input.signal, () => complete.add(k)),
          live.length,
          { close: (reason) => source.close(reason) },
        ),
      )
      live.forEach((target, index) => {
        if (!targets.isLive(target)) leave(index)
      })
      exportsReady.resolve(live.map((_, index) => viewFor(input, fans, index)))
    }
    const outcomes = await Promise.all(transferred.map((g) => g.promise))
    if (failure === undefined && outcomes.some(Boolean)) {
      // An export read whole must also have ended well on the XAPI side before it is called a backup.
      for (const [k, source] of opened.entries()) if (complete.has(k)) await source.result()
      await input.onTransferred()
      marked.resolve(undefined)
    } else marked.reject(failure?.error)
  } catch (error) {
    failure ??= { error }
    exportsReady.reject(error)
    marked.reject(error)
  } finally {
    await Promise.all(opened.map((source) => source.close()))
  }
  await runs
  if (failure !== undefined) throw failure.error
  targets.assertSome()
}

function request(input: DeltaExportInput, disk: DeltaDiskToExport) {
  return {
    vdiRef: disk.snapshotVdiRef,
    ...(disk.base === undefined ? {} : { baseVdiRef: disk.base.ref }),
    signal: input.signal,
    ...(input.rateLimiter === undefined ? {} : { rateLimiter: input.rateLimiter }),
  }
}

function viewFor(input: DeltaExportInput, fans: readonly FanOut<BlockSource>[], index: number): DeltaExport {
  return {
    ...input.records,
    disks: input.disks.map((disk, k) => ({
      snapshotVdiRef: disk.snapshotVdiRef,
      liveVdiUuid: disk.liveVdiUuid,
      baseSnapshotVdiUuid: disk.base?.uuid,
      source: fans[k]?.consumers[index] as BlockSource,
    })),
  }
}
