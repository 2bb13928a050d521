// VmRunSources for tests, read in-process from a simulator's storage (what /export_raw_vdi would
// send, without HTTP), recording each open and close; a disk can be made to stall forever while
// ignoring its signal, for abort tests. Also a clock whose timers fire only when told.
import type { DiskBlock } from '../../../formats/block-source.ts'
import type { Clock } from '../../../shared/clock.ts'
import type { RunningSimulator } from '../../../simulator/index.ts'
import type { VdiExportHandle, VmExportHandle, VmRunSources } from '../sources.ts'

/** Sources over `sim`'s storage and what they were asked. */
export interface SimSources extends VmRunSources {
  /** Each VDI export opened: the snapshot VDI ref and the base ref (undefined: full). */
  readonly opened: { readonly vdiRef: string; readonly baseVdiRef: string | undefined }[]
  /** Each VM export opened: the VM (or snapshot) ref. */
  readonly openedVms: string[]
  /** Refs (VDI or VM) whose export was closed, at least once. */
  readonly closed: Set<string>
  /** Resolves once a stalled disk is being read. */
  readonly stalled: Promise<void>
}

/** Options of simSources. */
export interface SimSourcesOptions {
  /** Makes reading this snapshot VDI's blocks (by the live VDI it is a snapshot of) never end. */
  readonly stallLiveVdi?: string
  /** Makes opening a VM export fail with this error. */
  readonly failVmExport?: Error
}

/** In-process sources over `sim` (see the file header). */
export function simSources(sim: RunningSimulator, options: SimSourcesOptions = {}): SimSources {
  const opened: { vdiRef: string; baseVdiRef: string | undefined }[] = []
  const openedVms: string[] = []
  const closed = new Set<string>()
  let reachStall: () => void = () => undefined
  const stalled = new Promise<void>((resolve) => (reachStall = resolve))
  return {
    opened,
    openedVms,
    closed,
    stalled,
    openVdiExport(_xapi, request): Promise<VdiExportHandle> {
      request.signal?.throwIfAborted()
      opened.push({ vdiRef: request.vdiRef, baseVdiRef: request.baseVdiRef })
      const source = sim.storage.source(
        request.vdiRef,
        request.baseVdiRef === undefined ? {} : { base: request.baseVdiRef },
      )
      const stall = sim.db.get('VDI', request.vdiRef).snapshot_of === options.stallLiveVdi
      async function* blocks(): AsyncGenerator<DiskBlock> {
        if (stall) {
          reachStall()
          // Never ends and ignores the signal: the VM run must stop waiting by itself.
          await new Promise<never>(() => undefined)
        }
        for await (const block of source.blocks()) {
          request.signal?.throwIfAborted()
          yield block
        }
      }
      return Promise.resolve({
        virtualSize: source.virtualSize,
        blockSize: source.blockSize,
        blockIndexes: source.blockIndexes,
        blocks,
        result: () => Promise.resolve(),
        close: () => {
          closed.add(request.vdiRef)
          return Promise.resolve()
        },
      })
    },
    openVmExport(_xapi, request): Promise<VmExportHandle> {
      if (options.failVmExport !== undefined) return Promise.reject(options.failVmExport)
      openedVms.push(request.vmRef)
      const vbds = sim.db.get('VM', request.vmRef).VBDs as string[]
      async function* stream(): AsyncGenerator<Uint8Array> {
        for (const vbd of vbds) {
          const vdi = sim.db.get('VBD', vbd).VDI as string
          if (sim.db.find('VDI', vdi) !== undefined) yield await Promise.resolve(sim.storage.readAll(vdi))
        }
      }
      return Promise.resolve({
        stream: stream(),
        result: () => Promise.resolve(),
        close: () => {
          closed.add(request.vmRef)
          return Promise.resolve()
        },
      })
    },
  }
}

/** A clock whose time stands still and whose sleeps end only when `fire()` is called. */
export interface ManualClock extends Clock {
  /** Ends every pending sleep (resolves them). */
  fire(): void
  /** Resolves once a sleep is pending. */
  readonly sleeping: Promise<void>
}

/** A ManualClock at `startMs`. */
export function manualClock(startMs = Date.UTC(2026, 5, 1, 12)): ManualClock {
  const pending: (() => void)[] = []
  let announce: () => void = () => undefined
  const sleeping = new Promise<void>((resolve) => (announce = resolve))
  return {
    now: () => startMs,
    sleep(_ms, signal) {
      signal?.throwIfAborted()
      announce()
      return new Promise<void>((resolve, reject) => {
        pending.push(resolve)
        signal?.addEventListener('abort', () => {
          reject(signal.reason as Error)
        })
      })
    },
    fire() {
      for (const resolve of pending.splice(0)) resolve()
    },
    sleeping,
  }
}
