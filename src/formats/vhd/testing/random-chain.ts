import { join } from 'node:path'
import { writeVhdStream } from '../conversions.ts'
import { LocalFile } from '../random-access-file.ts'
import { planVhdStream } from '../vhd-stream-writer.ts'
import { buildVhd } from './build-vhd.ts'
import { applyExtents, bufferBlockSource, randomExtents, randomInt } from './random-disk.ts'

/** Options of writeRandomChain. */
export interface RandomChainOptions {
  readonly dir: string
  readonly deltas: number
  /** Virtual size of the base; each delta may grow it (`growBytes`) to exercise BAT growth. */
  readonly virtualSize: number
  readonly blockSize: number
  readonly growBytes?: number
  readonly extentsPerDisk?: number
}

/** A chain on disk (parent first) and the content its top should read as. */
export interface RandomChain {
  readonly paths: string[]
  readonly content: Uint8Array
}

/**
 * Writes a random base (dynamic) and `deltas` differencing disks in `dir`: odd deltas carry partial
 * sector bitmaps (buildVhd), even ones whole blocks from the stream writer, as XAPI sends them.
 */
export async function writeRandomChain(
  random: () => number,
  options: RandomChainOptions,
): Promise<RandomChain> {
  const { dir, blockSize } = options
  let size = options.virtualSize
  let content: Uint8Array = new Uint8Array(size)
  const count = options.extentsPerDisk ?? 6
  const paths: string[] = []
  let parent: { uniqueId: string; relativePath: string } | undefined
  for (let level = 0; level <= options.deltas; level++) {
    if (level > 0 && options.growBytes !== undefined && random() < 0.5) {
      const grown = new Uint8Array(size + options.growBytes)
      grown.set(content)
      content = grown
      size = grown.length
    }
    const extents = randomExtents(random, size, randomInt(random, 1, count), blockSize)
    applyExtents(random, content, extents)
    const name = `d${String(level).padStart(2, '0')}.vhd`
    const path = join(dir, name)
    const uniqueId = crypto.randomUUID()
    const file = await LocalFile.open(path, 'create')
    try {
      if (level % 2 === 1 || parent === undefined) {
        await buildVhd(file, {
          virtualSize: size,
          blockSize,
          uniqueId,
          extents,
          content,
          ...(parent === undefined ? {} : { parent }),
        })
      } else {
        const touched = new Set(extents.flatMap((e) => blocksOf(e.offset, e.length, blockSize)))
        const source = bufferBlockSource(
          content,
          blockSize,
          [...touched].sort((a, b) => a - b),
        )
        await writeVhdStream(
          planVhdStream(source, { uniqueId, timestampMs: Date.UTC(2026, 0, 1), parent }),
          file,
        )
      }
    } finally {
      await file.close()
    }
    paths.push(path)
    parent = { uniqueId, relativePath: name }
  }
  return { paths, content }
}

function blocksOf(offset: number, length: number, blockSize: number): number[] {
  const out: number[] = []
  for (let i = Math.floor(offset / blockSize); i * blockSize < offset + length; i++) out.push(i)
  return out
}
