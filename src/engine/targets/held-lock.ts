import type { BlockSource, DiskBlock } from '../../formats/block-source.ts'
import type { LeaseKeeper } from '../../repository/vm-lock.ts'

/**
 * A VM lock held across the Writer API calls of one run (beforeBackup → afterBackup), kept alive
 * by its LeaseKeeper (a background renewal every third of the lease, src/repository/vm-lock.ts);
 * the wrapped sources and streams also check it between blocks, so a lock someone else took over
 * (LOCK_LOST) stops the write instead of letting two writers share the folder.
 */
export class HeldLock {
  readonly handle: LeaseKeeper
  readonly vmUuid: string

  constructor(handle: LeaseKeeper, vmUuid: string) {
    this.handle = handle
    this.vmUuid = vmUuid
  }

  /** Renews the lease if due; throws if it was lost. */
  keepAlive(): Promise<void> {
    return this.handle.keepAlive()
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
