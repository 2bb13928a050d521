import { posix } from 'node:path'
import type { BlockSource, DiskBlock } from '../block-source.ts'
import { readMergedBlock, readRange } from './block-content.ts'
import { MAX_CHAIN_LENGTH } from './constants.ts'
import type { RandomAccessFile } from './random-access-file.ts'
import { VhdError, fail } from './vhd-error.ts'
import type { InspectOptions } from './vhd-inspect.ts'
import { VhdFile } from './vhd-file.ts'

/** Opens the file at `path` for reading (a local file, a remote range reader…). */
export type VhdOpener = (path: string) => Promise<RandomAccessFile>

/** Path of the parent of the differencing disk at `childPath`: its header names it relative to the child's directory. */
export function resolveParentPath(childPath: string, parentName: string): string {
  return posix.isAbsolute(parentName) ? parentName : posix.join(posix.dirname(childPath), parentName)
}

/** Options of VhdChain.open. */
export interface ChainOptions {
  /** Stop before this ancestor path (exclusive): the chain then holds only the disks above it. */
  readonly until?: string
  /** Open at most this many disks (the chain then ends on a disk whose parent is not opened). */
  readonly maxDepth?: number
  readonly inspect?: InspectOptions
}

/** A VHD and its ancestors (child first), read as one disk: each read goes down the chain sector by sector. */
export class VhdChain {
  readonly disks: readonly VhdFile[]
  readonly paths: readonly string[]

  private constructor(disks: VhdFile[], paths: string[]) {
    this.disks = disks
    this.paths = paths
  }

  /**
   * Opens `path` and follows parents by relative path, checking each parent's footer UUID against
   * the child's header (VHD_PARENT_MISMATCH) and the chain length (a loop ends in VHD_INVALID).
   */
  static async open(path: string, opener: VhdOpener, options: ChainOptions = {}): Promise<VhdChain> {
    const disks: VhdFile[] = []
    const paths: string[] = []
    try {
      let current: string | undefined = posix.normalize(path)
      const until = options.until === undefined ? undefined : posix.normalize(options.until)
      while (current !== undefined && current !== until && paths.length < (options.maxDepth ?? Infinity)) {
        if (paths.includes(current) || paths.length >= MAX_CHAIN_LENGTH) {
          fail(
            'VHD_INVALID',
            current,
            0,
            'parent chain',
            `an acyclic chain shorter than ${MAX_CHAIN_LENGTH}`,
            paths.join(' -> '),
          )
        }
        const disk = await openDisk(current, opener, disks.at(-1), paths.at(-1), options.inspect)
        disks.push(disk)
        paths.push(current)
        current = disk.isDifferencing
          ? resolveParentPath(current, disk.header?.parentUnicodeName ?? '')
          : undefined
      }
    } catch (error) {
      await Promise.all(disks.map((d) => d.close()))
      throw error
    }
    return new VhdChain(disks, paths)
  }

  /** Builds a chain from disks already open (child first), checking UUID links and block sizes. */
  static fromDisks(disks: VhdFile[], paths: string[]): VhdChain {
    disks.forEach((disk, i) => {
      const parent = disks[i + 1]
      if (parent !== undefined) checkLink(disk, paths[i] ?? '', parent)
    })
    return new VhdChain(disks, paths)
  }

  get top(): VhdFile {
    return this.disks[0] as VhdFile
  }

  get virtualSize(): number {
    return this.top.virtualSize
  }

  get blockSize(): number {
    return this.top.blockSize
  }

  /** Number of blocks of the top disk's virtual size. */
  get blockCount(): number {
    return Math.ceil(this.virtualSize / this.blockSize)
  }

  /** True when some disk of the chain (or of its top `levels`) stores block `index`. */
  hasBlock(index: number, levels = this.disks.length): boolean {
    return this.disks.slice(0, levels).some((disk) => disk.hasBlock(index))
  }

  /** Ascending indexes of the blocks stored in the top `levels` disks (all by default). */
  blockIndexes(levels = this.disks.length): number[] {
    const out: number[] = []
    for (let i = 0; i < this.blockCount; i++) if (this.hasBlock(i, levels)) out.push(i)
    return out
  }

  /**
   * The content of block `index` as the top disk sees it (full blockSize bytes); with `scratch`
   * (bitmapSize + blockSize bytes) the result may be a view of it, valid until its next use.
   */
  async readBlock(index: number, scratch?: Uint8Array): Promise<Uint8Array> {
    return (await readMergedBlock(this.disks, index, scratch)).data
  }

  /** Bytes a `readBlock` scratch buffer needs. */
  get scratchSize(): number {
    return this.top.bitmapSize + this.blockSize
  }

  /** Reads `length` bytes at `offset` of the top disk's content. */
  async read(offset: number, length: number): Promise<Uint8Array> {
    return readRange(
      this.blockSize,
      async (index) => (this.hasBlock(index) ? this.readBlock(index) : undefined),
      offset,
      length,
    )
  }

  /**
   * A block source of this chain's content: blocks stored in the top `levels` disks (all: a flat
   * copy; fewer: a delta over the disk below them), each read through the whole chain.
   */
  toBlockSource(levels = this.disks.length): BlockSource {
    const indexes = this.blockIndexes(levels)
    const { virtualSize, blockSize } = this
    const readBlock = this.readBlock.bind(this)
    return {
      virtualSize,
      blockSize,
      blockIndexes: indexes,
      async *blocks(): AsyncGenerator<DiskBlock> {
        for (const index of indexes) {
          const data = await readBlock(index)
          yield { index, data: data.subarray(0, Math.min(blockSize, virtualSize - index * blockSize)) }
        }
      },
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.disks.map((d) => d.close()))
  }
}

async function openDisk(
  path: string,
  opener: VhdOpener,
  child: VhdFile | undefined,
  childPath: string | undefined,
  inspect: InspectOptions | undefined,
): Promise<VhdFile> {
  let file: RandomAccessFile
  try {
    file = await opener(path)
  } catch (error) {
    if (child === undefined) throw error
    throw new VhdError(
      {
        code: 'VHD_PARENT_MISSING',
        file: childPath ?? '',
        offset: child.footer.dataOffset + 64,
        field: 'header.parentUnicodeName',
        expected: `a readable parent at ${path}`,
        got: error instanceof Error ? error.message : String(error),
      },
      { cause: error },
    )
  }
  const disk = await VhdFile.open(file, inspect).catch(async (error: unknown) => {
    await file.close?.()
    throw error
  })
  if (child !== undefined) {
    try {
      checkLink(child, childPath ?? '', disk)
    } catch (error) {
      await disk.close()
      throw error
    }
  }
  return disk
}

function checkLink(child: VhdFile, childPath: string, parent: VhdFile): void {
  const expected = child.header?.parentUniqueId
  if (expected !== parent.uniqueId) {
    fail(
      'VHD_PARENT_MISMATCH',
      childPath,
      child.footer.dataOffset + 40,
      'header.parentUniqueId',
      `${expected} (in the child)`,
      `${parent.uniqueId} (footer of ${parent.file.name})`,
    )
  }
  if (parent.blockSize !== child.blockSize) {
    fail(
      'VHD_UNSUPPORTED',
      parent.file.name,
      parent.footer.dataOffset + 32,
      'header.blockSize',
      `${child.blockSize} (as the child)`,
      parent.blockSize,
    )
  }
}
