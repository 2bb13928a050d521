// Test-only builders for the hostile VHD corpus (test/hostile/vhd-*): small chains written to disk,
// merge state files, VHDs with hand-set header fields in sparse files, and byte-exact tree snapshots.
import { createHash } from 'node:crypto'
import { lstat, readFile, readdir, readlink, truncate, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { batSizeBytes } from '../bat.ts'
import { writeVhdStream } from '../conversions.ts'
import { DiskType, FOOTER_SIZE } from '../constants.ts'
import { createFooter, encodeFooter } from '../footer.ts'
import type { VhdHeader } from '../header.ts'
import { createHeader, encodeHeader } from '../header.ts'
import { LocalFile } from '../random-access-file.ts'
import { planVhdStream } from '../vhd-stream-writer.ts'
import { bufferBlockSource } from './random-disk.ts'

const KiB = 1024
const BLOCK = 64 * KiB

/** One disk of a test chain: its file name and, for a differencing disk, the parent name to record. */
export interface ChainDisk {
  readonly path: string
  /** The header's parentUnicodeName (default: the previous disk's file name); undefined for the base. */
  readonly parentName?: string
  /** The parent UUID to record (default: the previous disk's UUID). */
  readonly parentUuid?: string
  readonly uuid?: string
}

/**
 * Writes `disks` in order as a chain (the first dynamic, each next one a delta over the previous
 * unless told otherwise), each holding one 64 KiB block of its own byte value (none without
 * `withBlocks`); returns the UUIDs.
 */
export async function writeTestChain(
  disks: readonly ChainDisk[],
  virtualSize = 4 * BLOCK,
  withBlocks = true,
): Promise<string[]> {
  const uuids: string[] = []
  for (const [level, disk] of disks.entries()) {
    const uniqueId = disk.uuid ?? crypto.randomUUID()
    const content = new Uint8Array(virtualSize).fill(level + 1)
    const previous = disks[level - 1]
    const parent =
      level === 0 && disk.parentName === undefined
        ? undefined
        : {
            uniqueId: disk.parentUuid ?? uuids[level - 1] ?? crypto.randomUUID(),
            relativePath: disk.parentName ?? previous?.path.split('/').at(-1) ?? '',
          }
    const source = bufferBlockSource(content, BLOCK, withBlocks ? [level % 4] : [])
    const file = await LocalFile.open(disk.path, 'create')
    try {
      const options = { uniqueId, timestampMs: Date.UTC(2026, 0, 1) }
      await writeVhdStream(
        planVhdStream(source, parent === undefined ? options : { ...options, parent }),
        file,
      )
    } finally {
      await file.close()
    }
    uuids.push(uniqueId)
  }
  return uuids
}

/** Writes a merge state file for the parent `parentName` in `dir`, XO's shape, with the given fields. */
export async function writeStateFile(
  dir: string,
  parentName: string,
  state: { parent: string; child: string; chain: readonly string[]; step: 'mergeBlocks' | 'cleanup' },
): Promise<string> {
  const path = join(dir, `.${parentName}.merge.json`)
  const json = {
    parent: { uuid: state.parent },
    child: { uuid: state.child },
    chain: state.chain,
    currentBlock: 0,
    mergedDataSize: 0,
    step: state.step,
  }
  await writeFile(path, JSON.stringify(json))
  return path
}

/** Fields of a hand-made dynamic VHD header (sparse file: only the metadata sectors are written). */
export interface CraftedVhd {
  readonly virtualSize: number
  readonly blockSize: number
  readonly maxTableEntries: number
  /** Bytes of real BAT written as unused entries (the rest of the declared BAT reads as zeros). */
  readonly unusedBatBytes?: number
  readonly diskType?: number
  readonly header?: Partial<VhdHeader>
  /** The file's size (default: just enough for the declared BAT); the EOF footer ends it. */
  readonly fileSize?: number
}

/**
 * Writes a VHD whose header declares `maxTableEntries` at offset 1536, in a file made just long
 * enough to hold that BAT (sparse), so a reader that trusts the field allocates what it says.
 */
export async function writeCraftedVhd(path: string, crafted: CraftedVhd): Promise<number> {
  const footer = createFooter({
    virtualSize: crafted.virtualSize,
    diskType: (crafted.diskType ?? DiskType.dynamic) as 3,
    uniqueId: crypto.randomUUID(),
    timestampMs: Date.UTC(2026, 0, 1),
  })
  const header = {
    ...createHeader({ tableOffset: 1536, maxTableEntries: crafted.maxTableEntries, blockSize: 4096 }),
    blockSize: crafted.blockSize,
    ...crafted.header,
  }
  const size = crafted.fileSize ?? 1536 + batSizeBytes(crafted.maxTableEntries) + FOOTER_SIZE
  const file = await LocalFile.open(path, 'create')
  try {
    await file.write(0, encodeFooter(footer))
    await file.write(512, encodeHeader(header))
    if (crafted.unusedBatBytes !== undefined)
      await file.write(1536, new Uint8Array(crafted.unusedBatBytes).fill(0xff))
    await file.write(size - FOOTER_SIZE, encodeFooter(footer))
  } finally {
    await file.close()
  }
  await truncate(path, size)
  return size
}

/** Every entry under `dir` (recursively, symlinks not followed) with its type and content hash. */
export async function snapshotTree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  const walk = async (at: string): Promise<void> => {
    for (const name of (await readdir(at)).sort()) {
      const path = join(at, name)
      const info = await lstat(path)
      const key = relative(dir, path)
      if (info.isSymbolicLink()) out[key] = `symlink ${await readlink(path)}`
      else if (info.isDirectory()) {
        out[key] = 'directory'
        await walk(path)
      } else if (info.isFile())
        out[key] = `file ${createHash('sha256')
          .update(await readFile(path))
          .digest('hex')}`
      else out[key] = 'special'
    }
  }
  await walk(dir)
  return out
}
