import type { BlockSource, DiskBlock } from '../../formats/block-source.ts'
import type { LockHandle } from '../../remotes/remote.ts'
import type { Clock } from '../../shared/clock.ts'

/**
 * A VM lock held across the Writer API calls of one run (beforeBackup → afterBackup). Its lease
 * (VM_LOCK_TTL_MS) is shorter than a long transfer, so the data path refreshes it: `keepAlive`
 * renews it once a third of the lease has passed (time from the injected clock), and the wrapped
 * sources and streams call it between blocks. A lock someone else took over makes the refresh
 * throw LOCK_LOST, which stops the write instead of letting two writers share the folder.
 */
export class HeldLock {
  readonly handle: LockHandle
  readonly vmUuid: string
  readonly #clock: Clock
  readonly #refreshEveryMs: number
  #lastRefreshMs: number
  /** The renewal in flight: disks written concurrently share it (two would race on the lease's version). */
  #renewing: Promise<void> | undefined

  constructor(handle: LockHandle, vmUuid: string, clock: Clock, ttlMs: number) {
    this.handle = handle
    this.vmUuid = vmUuid
    this.#clock = clock
    this.#refreshEveryMs = ttlMs / 3
    this.#lastRefreshMs = clock.now()
  }

  /** Renews the lease when a third of it has passed since the last renewal (callers at once share one renewal); else does nothing. */
  async keepAlive(): Promise<void> {
    if (this.#renewing !== undefined) return this.#renewing
    if (this.#clock.now() - this.#lastRefreshMs < this.#refreshEveryMs) return
    this.#renewing = this.handle.refresh().then(
      () => {
        this.#lastRefreshMs = this.#clock.now()
        this.#renewing = undefined
      },
      (error: unknown) => {
        this.#renewing = undefined
        throw error
      },
    )
    return this.#renewing
  }

  /** The same disk, whose `blocks()` keeps this lock alive before each block it yields. */
  source(source: BlockSource): BlockSource {
    const keepAlive = () => this.keepAlive()
    return {
      virtualSize: source.virtualSize,
      blockSize: source.blockSize,
      blockIndexes: source.blockIndexes,
      async *blocks(): AsyncGenerator<DiskBlock> {
        for await (const block of source.blocks()) {
          await keepAlive()
          yield block
        }
      },
    }
  }

  /** The same byte stream, keeping this lock alive before each chunk it yields. */
  async *stream(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    for await (const chunk of chunks) {
      await this.keepAlive()
      yield chunk
    }
  }
}
