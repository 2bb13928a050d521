import { posix } from 'node:path'
import { confinePath, resolveReference } from '../../shared/confine.ts'
import type { BlockSource, DiskBlock } from '../block-source.ts'
import { readMergedBlock, readRange } from './block-content.ts'
import { MAX_CHAIN_LENGTH } from './constants.ts'
import type { RandomAccessFile } from './random-access-file.ts'
import { LocalFile } from './random-access-file.ts'
import { VhdError, fail, withPathContext } from './vhd-error.ts'
import type { InspectOptions } from './vhd-inspect.ts'
import { VhdFile } from './vhd-file.ts'

/** Opens the file at `path` for reading (a local file, a remote range reader…). */
export type VhdOpener = (path: string) => Promise<RandomAccessFile>

/**
 * Maps the parent name found in the header of `child` (opened from `childPath`) to the path to open,
 * or throws (PathError when the name is refused): where a chain may lead is the resolver's policy.
 */
export type ParentResolver = (childPath: string, parentName: string, child: VhdFile) => Promise<string>

/**
 * Path of the parent named `parentName` (header `parentUnicodeName`) of the differencing disk at
 * `childPath`: relative to the child's directory, its syntax checked by the confinement gate (an
 * empty or absolute name, a NUL or a backslash throws PathError PATH_INVALID). Whether it may leave
 * the child's folder is the caller's scope (a merge's, a repository's).
 */
export function resolveParentPath(childPath: string, parentName: string): string {
  // resolveReference works on root-relative folders: check the name from the child's absolute folder.
  resolveReference(posix.dirname(posix.resolve(childPath)).slice(1), parentName)
  return posix.normalize(posix.join(posix.dirname(childPath), parentName))
}

/**
 * The resolver of plain reads (`info`, `check`, `to-raw`): resolveParentPath, and when the child is
 * a local file, the parent checked on disk before it is opened (a regular file, through
 * confinePath): opening a FIFO would block forever, a directory or a device is no VHD.
 */
export const defaultParentResolver: ParentResolver = async (childPath, parentName, child) => {
  const path = resolveParentPath(childPath, parentName)
  if (child.file instanceof LocalFile)
    await confinePath('/', posix.resolve(path).slice(1), { symlinks: 'within-root', type: 'file' })
  return path
}

/** Options of VhdChain.open. */
export interface ChainOptions {
  /** Stop before this ancestor path (exclusive): the chain then holds only the disks above it. */
  readonly until?: string
  /** Open at most this many disks (the chain then ends on a disk whose parent is not opened). */
  readonly maxDepth?: number
  readonly inspect?: InspectOptions
  /** How parent names become paths (default: defaultParentResolver). */
  readonly resolveParent?: ParentResolver
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
   * Opens `path` and follows parents through `options.resolveParent`, checking each parent's footer
   * UUID against the child's header (VHD_PARENT_MISMATCH); a loop (a path or a UUID met twice) or a
   * chain deeper than MAX_CHAIN_LENGTH ends in VHD_INVALID `parent chain` with a bounded message.
   */
  static async open(path: string, opener: VhdOpener, options: ChainOptions = {}): Promise<VhdChain> {
    const disks: VhdFile[] = []
    const paths: string[] = []
    const maxDepth = options.maxDepth ?? Infinity
    try {
      let current: string | undefined = posix.normalize(path)
      const until = options.until === undefined ? undefined : posix.normalize(options.until)
      while (current !== undefined && current !== until && paths.length < maxDepth) {
        checkNextLevel(current, paths, disks)
        const disk = await openDisk(current, opener, disks.at(-1), paths.at(-1), options.inspect)
        try {
          checkUuidOnce(disk, current, paths, disks)
        } catch (error) {
          await disk.close()
          throw error
        }
        disks.push(disk)
        paths.push(current)
        current =
          disk.isDifferencing && paths.length < maxDepth
            ? await parentOf(current, disk, options.resolveParent ?? defaultParentResolver)
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

/** The path of `child`'s parent: an empty name is refused (joined to the folder, it names the folder). */
async function parentOf(childPath: string, child: VhdFile, resolve: ParentResolver): Promise<string> {
  const name = child.header?.parentUnicodeName ?? ''
  const offset = child.footer.dataOffset + 64
  if (name === '')
    fail('VHD_INVALID', childPath, offset, 'header.parentUnicodeName', 'the parent file name', '""')
  try {
    return posix.normalize(await resolve(childPath, name, child))
  } catch (error) {
    return withPathContext(error, childPath, offset, 'header.parentUnicodeName', name)
  }
}

/** Where the link to the next level is named: the last opened disk's `parentUnicodeName`. */
function linkOf(paths: readonly string[], disks: readonly VhdFile[]): [string, number] {
  const child = disks.at(-1)
  return child === undefined ? [paths[0] ?? '', 0] : [paths.at(-1) ?? '', child.footer.dataOffset + 64]
}

/** Before opening `next`: a path met twice is a loop, and the depth is bounded (message shows 4 paths). */
function checkNextLevel(next: string, paths: readonly string[], disks: readonly VhdFile[]): void {
  const [file, offset] = linkOf(paths, disks)
  if (paths.includes(next))
    fail(
      'VHD_INVALID',
      file,
      offset,
      'parent chain',
      'an acyclic chain',
      `${next} again after ${paths.length} levels`,
    )
  if (paths.length >= MAX_CHAIN_LENGTH) {
    const shown = `${paths[0]} -> ${paths[1]} -> … -> ${paths.at(-1)} -> ${next}`
    fail(
      'VHD_INVALID',
      file,
      offset,
      'parent chain',
      `at most ${MAX_CHAIN_LENGTH} levels`,
      `a longer chain (${shown})`,
    )
  }
}

/** After opening `disk`: a footer UUID met twice is a loop whose paths differ (links, `..`, aliases). */
function checkUuidOnce(
  disk: VhdFile,
  path: string,
  paths: readonly string[],
  disks: readonly VhdFile[],
): void {
  const first = disks.findIndex((d) => d.uniqueId === disk.uniqueId)
  if (first === -1) return
  const [file, offset] = linkOf(paths, disks)
  const got = `UUID ${disk.uniqueId} at ${paths[first]} and again at ${path}`
  fail('VHD_INVALID', file, offset, 'parent chain', 'an acyclic chain (each footer UUID once)', got)
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
