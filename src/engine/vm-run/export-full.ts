// The full export of one VM to every live target (xen-orchestra-backups.md §3.3 `FullXapi._copy`,
// §7): one `/export` XVA stream, fanned out so each target's `export` task (isFull: true) reads its
// own view; a failing target is unpiped and dropped, the others go on.
import { STEP } from '../../tasks/events.ts'
import type { Task } from '../../tasks/task.ts'
import type { VmRecord, XapiClient, XapiRef } from '../../xapi/types.ts'
import type { VmRunContext } from '../backup-target.ts'
import { fanOut } from '../fan-out.ts'
import type { RateLimiter } from '../rate-limit.ts'
import type { Compression } from '../run-description.ts'
import type { VmRunSources } from './sources.ts'
import { abortable } from './sources.ts'
import type { TargetSet } from './target-set.ts'
import { targetName } from './target-set.ts'
import { VmRunError } from './vm-run-error.ts'

/** What exportFull needs. */
export interface FullExportInput {
  readonly xapi: XapiClient
  readonly sources: VmRunSources
  readonly rateLimiter: RateLimiter | undefined
  readonly signal: AbortSignal
  readonly targets: TargetSet
  readonly context: VmRunContext
  /** The VM exported: the snapshot, or the halted VM itself when no snapshot was needed. */
  readonly exportRef: XapiRef
  readonly vmSnapshot: VmRecord
  readonly compression: Compression
}

/**
 * Streams `/export` of `exportRef` to every live target's runFull at once. Throws the source's
 * error when the export cannot be opened or its XAPI task failed after being read whole, or
 * AllTargetsFailedError when no target stored it.
 */
export async function exportFull(input: FullExportInput, task: Task): Promise<void> {
  const { targets, context } = input
  const live = targets.live
  const source = await input.sources.openVmExport(input.xapi, {
    vmRef: input.exportRef,
    compression: input.compression,
    vmUuid: input.vmSnapshot.uuid,
    signal: input.signal,
    ...(input.rateLimiter === undefined ? {} : { rateLimiter: input.rateLimiter }),
  })
  const read = { complete: false }
  try {
    const fan = fanOut(
      abortable(source.stream, input.signal, () => {
        read.complete = true
      }),
      live.length,
      { close: (reason) => source.close(reason) },
    )
    await Promise.allSettled(
      live.map((target, index) =>
        task.run(
          { message: STEP.export, data: { type: target.kind, id: target.id, isFull: true } },
          async (exportTask) => {
            try {
              await targets.attempt(target, 'runFull', async () => {
                if (target.runFull === undefined)
                  throw new VmRunError(
                    'VM_TARGET_UNSUPPORTED',
                    `${targetName(target)} has no runFull: it cannot take a full backup`,
                  )
                const stream = fan.consumers[index] as AsyncIterable<Uint8Array>
                await target.runFull(context, { vmSnapshot: input.vmSnapshot, stream }, exportTask)
              })
            } finally {
              fan.drop(index)
            }
          },
        ),
      ),
    )
    targets.assertSome()
    // A stream read whole must also have ended well on the XAPI side before it is called a backup.
    if (read.complete) await source.result()
  } finally {
    await source.close()
  }
}
