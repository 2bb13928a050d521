// The exports a VM run reads, taken as injected functions (src/engine/sources/ provides the real
// ones: openVdiExport, openVmExport), and the abort plumbing that stops a read whose source does
// not answer its signal.
import type { BlockSource, DiskBlock } from '../../formats/block-source.ts'
import type { XapiClient, XapiRef } from '../../xapi/types.ts'
import type { RateLimiter } from '../rate-limit.ts'
import type { Compression } from '../run-description.ts'

/** A VDI export being read: a single-use block source, its XAPI task's outcome, and close. */
export interface VdiExportHandle extends BlockSource {
  /** After blocks() ended: the XAPI task's outcome (throws if it failed). */
  result(): Promise<void>
  /** Aborts the download and ends its task; idempotent, never throws. */
  close(reason?: unknown): Promise<void>
}

/** A VM export (XVA) being read. */
export interface VmExportHandle {
  /** The XVA bytes; iterable once. */
  readonly stream: AsyncIterable<Uint8Array>
  result(): Promise<void>
  close(reason?: unknown): Promise<void>
}

/** Options of openVdiExport as the VM run passes them. */
export interface VdiExportRequest {
  readonly vdiRef: XapiRef
  /** The base snapshot VDI: the export is then the blocks changed since it (a differencing VHD). */
  readonly baseVdiRef?: XapiRef
  readonly signal?: AbortSignal
  readonly rateLimiter?: RateLimiter
}

/** Options of openVmExport as the VM run passes them. */
export interface VmExportRequest {
  readonly vmRef: XapiRef
  readonly compression: Compression
  readonly vmUuid?: string
  readonly signal?: AbortSignal
  readonly rateLimiter?: RateLimiter
}

/**
 * Where a VM run gets its data: `/export_raw_vdi?format=vhd[&base=]` per disk (delta) and
 * `/export` of a VM (full). The functions of src/engine/sources/ fit as they are.
 */
export interface VmRunSources {
  openVdiExport(xapi: XapiClient, options: VdiExportRequest): Promise<VdiExportHandle>
  openVmExport(xapi: XapiClient, options: VmExportRequest): Promise<VmExportHandle>
}

/** Waits for `promise`, or rejects with the signal's reason as soon as it aborts. */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => undefined)
    return Promise.reject(signal.reason as Error)
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      reject(signal.reason as Error)
    }
    signal.addEventListener('abort', onAbort, { once: true })
    void promise.then(resolve, reject).finally(() => {
      signal.removeEventListener('abort', onAbort)
    })
  })
}

/**
 * `source` read until it ends or `signal` aborts: an abort rejects the pending read at once
 * (even from a source that ignores signals) and asks the source to stop. `onComplete` is told when
 * the source ended by itself, i.e. was read whole.
 */
export async function* abortable<T>(
  source: AsyncIterable<T>,
  signal: AbortSignal,
  onComplete: () => void,
): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]()
  let ended = false
  try {
    for (;;) {
      const next = await raceAbort(iterator.next(), signal)
      if (next.done === true) {
        ended = true
        onComplete()
        return
      }
      yield next.value
    }
  } finally {
    // Not awaited: a source stuck in a read would keep the run waiting; close() ends the download.
    if (!ended) void Promise.resolve(iterator.return?.()).catch(() => undefined)
  }
}

/** `source` with abortable blocks (see abortable); `onComplete` when its blocks were read whole. */
export function abortableSource(
  source: BlockSource,
  signal: AbortSignal,
  onComplete: () => void,
): BlockSource {
  return {
    virtualSize: source.virtualSize,
    blockSize: source.blockSize,
    blockIndexes: source.blockIndexes,
    blocks: (): AsyncIterable<DiskBlock> => abortable(source.blocks(), signal, onComplete),
  }
}
