// Power handling and the snapshot call (xen-orchestra-backups.md §1.2 offlineBackup,
// offlineSnapshot, checkpointSnapshot; §3.1 steps 5 and 7): a VM shut down for its backup is
// started again whatever happens, and the snapshot leaves out `[NOBAK]` disks.
import { errorCode } from '../../shared/errors.ts'
import type { Task } from '../../tasks/task.ts'
import type { XapiClient, XapiRef } from '../../xapi/types.ts'
import { readVmDisks, RecordReader } from './job-snapshots.ts'
import { TEMP_SNAPSHOT_NAME } from './snapshot-attributes.ts'

/** The VDI name marker that leaves a disk out of backup snapshots (reference §1.5). */
export const NOBAK_MARKER = '[NOBAK]'

/** VM tags that force a setting (reference §1.5). */
export const TAG = { memoryBackup: 'xo-memory-backup', offlineBackup: 'xo-offline-backup' } as const

/** Shuts a running VM down for the backup and remembers it, so the run can always start it again. */
export class PowerGuard {
  readonly #xapi: XapiClient
  readonly #vmRef: XapiRef
  #down = false

  constructor(xapi: XapiClient, vmRef: XapiRef) {
    this.#xapi = xapi
    this.#vmRef = vmRef
  }

  /** True while the VM is down because of this run. */
  get isDown(): boolean {
    return this.#down
  }

  /** `VM.clean_shutdown`; marked down before the call, as an aborted call may still halt the VM. */
  async shutDown(signal: AbortSignal): Promise<void> {
    this.#down = true
    await this.#xapi.callAsync('VM.clean_shutdown', [this.#vmRef], { signal })
  }

  /**
   * Starts the VM again if this run shut it down and it is halted (a shutdown that never happened
   * leaves it running: nothing to do). Takes no signal: a VM is never left down by an abort.
   */
  async restart(): Promise<void> {
    if (!this.#down) return
    const { power_state } = await this.#xapi.getRecord('VM', this.#vmRef)
    if (power_state === 'Halted') await this.#xapi.callAsync('VM.start', [this.#vmRef, false, false])
    this.#down = false
  }
}

/** How to take the snapshot. */
export interface SnapshotRequest {
  /** `VM.checkpoint` (memory included); falls back to `VM.snapshot` on a VM that is not running. */
  readonly checkpoint: boolean
  /** Live VDIs to leave out (`[NOBAK]`). */
  readonly ignoreVdis: readonly XapiRef[]
  readonly signal: AbortSignal
}

/**
 * Takes the snapshot under the temporary name and returns its ref. `[NOBAK]` disks are left out
 * with `ignore_vdis`; where XAPI cannot (a checkpoint, XAPI before 21.4.0 answering
 * MESSAGE_PARAMETER_COUNT_MISMATCH) their snapshot VBDs and VDIs are destroyed afterwards.
 */
export async function takeSnapshot(
  xapi: XapiClient,
  vmRef: XapiRef,
  request: SnapshotRequest,
  task: Task,
): Promise<XapiRef> {
  const { signal, ignoreVdis } = request
  let ref: XapiRef | undefined
  if (request.checkpoint) {
    try {
      ref = await xapi.callAsync('VM.checkpoint', [vmRef, TEMP_SNAPSHOT_NAME], { signal })
    } catch (error) {
      if (errorCode(error) !== 'VM_BAD_POWER_STATE') throw error
      task.info('the VM is not running: a snapshot without memory is taken instead of a checkpoint')
    }
  }
  let leftIn = ref !== undefined && ignoreVdis.length > 0
  if (ref === undefined) {
    if (ignoreVdis.length === 0)
      ref = await xapi.callAsync('VM.snapshot', [vmRef, TEMP_SNAPSHOT_NAME], { signal })
    else {
      try {
        ref = await xapi.callAsync('VM.snapshot', [vmRef, TEMP_SNAPSHOT_NAME, ignoreVdis], { signal })
      } catch (error) {
        if (errorCode(error) !== 'MESSAGE_PARAMETER_COUNT_MISMATCH') throw error
        ref = await xapi.callAsync('VM.snapshot', [vmRef, TEMP_SNAPSHOT_NAME], { signal })
        leftIn = true
      }
    }
  }
  if (leftIn) await dropIgnoredDisks(xapi, ref, ignoreVdis, signal)
  return ref
}

/** Destroys the snapshot's VBDs and VDIs taken of `ignoreVdis` (only snapshot VDIs, never a live one). */
async function dropIgnoredDisks(
  xapi: XapiClient,
  snapshotRef: XapiRef,
  ignoreVdis: readonly XapiRef[],
  signal: AbortSignal,
): Promise<void> {
  const reader = new RecordReader(xapi)
  const snapshot = await xapi.getRecord('VM', snapshotRef, { signal })
  for (const disk of await readVmDisks(reader, snapshot)) {
    if (!disk.record.is_a_snapshot || !ignoreVdis.includes(disk.record.snapshot_of)) continue
    await xapi.call('VBD.destroy', [disk.vbdRef], { signal })
    await xapi.call('VDI.destroy', [disk.ref], { signal })
  }
}
