// VHD benchmarks (issue 3): stream write, chain read and merge against dd on the same scratch disk.
// Writes: ours ends with fdatasync and dd runs with conv=fdatasync, both writing the same bytes.
// Each figure is the best of 5 runs, ours and dd alternating. Reads: both read files just
// written, so both come from the page cache (no cache drop on a shared machine).
import { spawnSync } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { appendFileSync, writeFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { BlockSource } from '../src/formats/block-source.ts'
import {
  LocalFile,
  VhdChain,
  chainToRaw,
  localMergeStore,
  mergeVhdChain,
  planVhdStream,
  writeVhdStream,
} from '../src/formats/vhd/index.ts'
import type { RandomAccessFile } from '../src/formats/vhd/index.ts'
import type { Benchmark } from './harness.ts'
import { timeSeconds } from './harness.ts'

const MiB = 2 ** 20
const BLOCK = 2 * MiB

/** A block source whose blocks all carry `data` (content does not matter for throughput). */
function sameBlocks(virtualSize: number, indexes: number[], data: Uint8Array): BlockSource {
  return {
    virtualSize,
    blockSize: BLOCK,
    blockIndexes: indexes,
    async *blocks() {
      for (const index of indexes) yield await Promise.resolve({ index, data })
    },
  }
}

const ZERO_BLOCK = new Uint8Array(BLOCK)

/** Writes a VHD; with `holes`, ZERO_BLOCK chunks are skipped so the data stays a file-system hole. */
async function writeVhd(
  path: string,
  source: BlockSource,
  parent?: { uniqueId: string; relativePath: string },
  holes = false,
): Promise<string> {
  const uniqueId = randomUUID()
  const stream = planVhdStream(source, {
    uniqueId,
    timestampMs: 0,
    ...(parent === undefined ? {} : { parent }),
  })
  const file = await LocalFile.open(path, 'create')
  const target: RandomAccessFile = holes
    ? {
        name: path,
        read: (o, l) => file.read(o, l),
        size: () => file.size(),
        write: (o, d) => (d === ZERO_BLOCK ? Promise.resolve() : file.write(o, d)),
      }
    : file
  try {
    await writeVhdStream(stream, target)
    await file.sync()
  } finally {
    await file.close()
  }
  return uniqueId
}

function dd(args: string[]): void {
  const result = spawnSync('dd', [...args, 'status=none'])
  if (result.status !== 0) throw new Error(`dd failed: ${String(result.stderr)}`)
}

const rate = (bytes: number, seconds: number): number => Math.round((bytes / MiB / seconds) * 10) / 10

async function mergeInto(
  dir: string,
  parentSize: number,
  delta: number[],
  data: Uint8Array,
): Promise<number> {
  // A sparse parent: every other block allocated, the data left as file-system holes.
  const parentBlocks = Array.from({ length: parentSize / BLOCK / 2 }, (_, i) => i * 2)
  const parentId = await writeVhd(
    join(dir, 'parent.vhd'),
    sameBlocks(parentSize, parentBlocks, ZERO_BLOCK),
    undefined,
    true,
  )
  await writeVhd(join(dir, 'child.vhd'), sameBlocks(parentSize, delta, data), {
    uniqueId: parentId,
    relativePath: 'parent.vhd',
  })
  const seconds = await timeSeconds(() =>
    mergeVhdChain(localMergeStore, [join(dir, 'parent.vhd'), join(dir, 'child.vhd')]),
  )
  await rm(join(dir, 'child.vhd'), { force: true })
  return seconds
}

const ROUNDS = 5

/** Runs ours and the reference alternately ROUNDS times and keeps the best time of each. */
async function interleaved(
  ours: () => Promise<unknown>,
  reference: () => Promise<unknown>,
): Promise<[number, number]> {
  let best: [number, number] = [Infinity, Infinity]
  for (let round = 0; round < ROUNDS; round++) {
    best = [Math.min(best[0], await timeSeconds(ours)), Math.min(best[1], await timeSeconds(reference))]
  }
  return best
}

/**
 * dd copying the same bytes ours writes (`block` repeated, from a source file written once, so read
 * from the page cache) with conv=fdatasync. Not /dev/zero: this disk turns zero writes into discards,
 * and identical content on both sides keeps any host-side compression or dedup from favouring one.
 */
function ddWrite(dir: string, bytes: number, block: Uint8Array): () => Promise<void> {
  const source = join(dir, 'dd-source.raw')
  const count = Math.ceil(bytes / BLOCK)
  writeFileSync(source, new Uint8Array(0))
  for (let i = 0; i < count; i++) appendFileSync(source, block)
  const path = join(dir, 'dd.raw')
  return async () => {
    dd([`if=${source}`, `of=${path}`, 'bs=2M', `count=${count}`, 'conv=fdatasync'])
    await rm(path, { force: true })
  }
}

export const benchmarks: Benchmark[] = [
  {
    name: 'vhd.stream-write',
    async run({ dir, report }) {
      const blocks = 256
      const data = randomBytes(BLOCK)
      const path = join(dir, 'stream.vhd')
      const source = sameBlocks(blocks * BLOCK, [...Array(blocks).keys()], data)
      const [ours, reference] = await interleaved(
        async () => {
          await writeVhd(path, source)
          await rm(path, { force: true })
        },
        ddWrite(dir, blocks * BLOCK, data),
      )
      report({
        name: 'vhd stream write (512 MiB, fdatasync)',
        value: rate(blocks * BLOCK, ours),
        unit: 'MiB/s',
        reference: {
          name: 'dd bs=2M conv=fdatasync (same bytes)',
          value: rate(blocks * BLOCK, reference),
          unit: 'MiB/s',
        },
      })
    },
  },
  {
    name: 'vhd.chain-read',
    async run({ dir, report }) {
      const blocks = 256
      const size = blocks * BLOCK
      const data = randomBytes(BLOCK)
      let parent = {
        uniqueId: await writeVhd(join(dir, 'l0.vhd'), sameBlocks(size, [...Array(blocks).keys()], data)),
        relativePath: 'l0.vhd',
      }
      // Three deltas of 10% each: reads cross four levels.
      for (let level = 1; level <= 3; level++) {
        const indexes = Array.from({ length: blocks / 10 }, (_, i) => (i * 10 + level) % blocks).sort(
          (a, b) => a - b,
        )
        parent = {
          uniqueId: await writeVhd(join(dir, `l${level}.vhd`), sameBlocks(size, indexes, data), parent),
          relativePath: `l${level}.vhd`,
        }
      }
      const path = join(dir, 'dd.raw')
      dd(['if=/dev/urandom', `of=${path}`, 'bs=2M', `count=${blocks}`])
      const chain = await VhdChain.open(join(dir, 'l3.vhd'), (p) => LocalFile.open(p))
      const ddRead = async (): Promise<void> => {
        dd([`if=${path}`, 'of=/dev/null', 'bs=2M'])
        await Promise.resolve()
      }
      const readAll = (reuseBuffer: boolean) => async (): Promise<void> => {
        for await (const chunk of chainToRaw(chain, { reuseBuffer })) if (chunk.length === 0) break
      }
      const [fresh, reference] = await interleaved(readAll(false), ddRead)
      const [reused, reference2] = await interleaved(readAll(true), ddRead)
      await chain.close()
      const ddFigure = { name: 'dd read bs=2M (warm cache)', unit: 'MiB/s' }
      report({
        name: 'vhd chain read (4 levels, 512 MiB, warm cache, a new buffer per block)',
        value: rate(size, fresh),
        unit: 'MiB/s',
        reference: { ...ddFigure, value: rate(size, reference) },
      })
      report({
        name: 'vhd chain read (4 levels, 512 MiB, warm cache, reused buffer)',
        value: rate(size, reused),
        unit: 'MiB/s',
        reference: { ...ddFigure, value: rate(size, reference2) },
      })
    },
  },
  {
    name: 'vhd.merge',
    async run({ dir, report }) {
      const data = randomBytes(BLOCK)
      // 5% of 1 GiB, the same delta for both parents: the cost must not follow the parent size.
      const delta = Array.from({ length: 26 }, (_, i) => i * 19 + 1)
      const moved = delta.length * BLOCK
      const times = { small: Infinity, large: Infinity, dd: Infinity }
      const ddMoved = ddWrite(dir, moved, data)
      for (let round = 0; round < ROUNDS; round++) {
        times.small = Math.min(times.small, await mergeInto(dir, 1024 * MiB, delta, data))
        times.large = Math.min(times.large, await mergeInto(dir, 4096 * MiB, delta, data))
        times.dd = Math.min(times.dd, await timeSeconds(ddMoved))
      }
      const round3 = (x: number): number => Math.round(x * 1000) / 1000
      report({
        name: 'vhd merge 5% delta into 4 GiB parent',
        value: round3(times.large),
        unit: 's',
        reference: { name: 'same delta into 1 GiB parent', value: round3(times.small), unit: 's' },
      })
      report({
        name: 'vhd merge throughput (moved bytes, 1 GiB parent)',
        value: rate(moved, times.small),
        unit: 'MiB/s',
        reference: {
          name: 'dd bs=2M conv=fdatasync, same bytes',
          value: rate(moved, times.dd),
          unit: 'MiB/s',
        },
      })
    },
  },
]
