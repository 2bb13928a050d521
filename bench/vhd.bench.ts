// VHD benchmarks (issue 3): stream write, chain read and merge against dd on the same scratch disk.
// Writes: ours ends with fdatasync and dd runs with conv=fdatasync. Each figure is the best of 3 runs. Reads: both read files just
// written, so both come from the page cache (no cache drop on a shared machine).
import { spawnSync } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
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

/** Best of `runs` timings: the shared machine's noise only ever adds time. */
async function bestSeconds(runs: number, fn: () => Promise<unknown>): Promise<number> {
  let best = Infinity
  for (let i = 0; i < runs; i++) best = Math.min(best, await timeSeconds(fn))
  return best
}

async function ddWriteRate(dir: string, bytes: number): Promise<number> {
  const path = join(dir, 'dd.raw')
  const seconds = await bestSeconds(3, async () => {
    dd(['if=/dev/zero', `of=${path}`, 'bs=2M', `count=${Math.ceil(bytes / BLOCK)}`, 'conv=fdatasync'])
    await rm(path, { force: true })
  })
  return bytes / MiB / seconds
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

export const benchmarks: Benchmark[] = [
  {
    name: 'vhd.stream-write',
    async run({ dir, report }) {
      const blocks = 256
      const data = randomBytes(BLOCK)
      const path = join(dir, 'stream.vhd')
      const seconds = await timeSeconds(() =>
        writeVhd(path, sameBlocks(blocks * BLOCK, [...Array(blocks).keys()], data)),
      )
      await rm(path, { force: true })
      const reference = await ddWriteRate(dir, blocks * BLOCK)
      report({
        name: 'vhd stream write (512 MiB, fdatasync)',
        value: rate(blocks * BLOCK, seconds),
        unit: 'MiB/s',
        reference: { name: 'dd bs=2M conv=fdatasync', value: Math.round(reference * 10) / 10, unit: 'MiB/s' },
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
      const chain = await VhdChain.open(join(dir, 'l3.vhd'), (p) => LocalFile.open(p))
      const seconds = await bestSeconds(3, async () => {
        for await (const chunk of chainToRaw(chain)) if (chunk.length === 0) break
      })
      await chain.close()
      const path = join(dir, 'dd.raw')
      dd(['if=/dev/urandom', `of=${path}`, 'bs=2M', `count=${blocks}`])
      const ddSeconds = await bestSeconds(3, async () => {
        dd([`if=${path}`, 'of=/dev/null', 'bs=2M'])
        await Promise.resolve()
      })
      report({
        name: 'vhd chain read (4 levels, 512 MiB, warm cache)',
        value: rate(size, seconds),
        unit: 'MiB/s',
        reference: { name: 'dd read bs=2M (warm cache)', value: rate(size, ddSeconds), unit: 'MiB/s' },
      })
    },
  },
  {
    name: 'vhd.merge',
    async run({ dir, report }) {
      const data = randomBytes(BLOCK)
      // 5% of 1 GiB, the same delta for both parents: the cost must not follow the parent size.
      const delta = Array.from({ length: 26 }, (_, i) => i * 19 + 1)
      const times = { small: Infinity, large: Infinity }
      for (let round = 0; round < 3; round++) {
        times.small = Math.min(times.small, await mergeInto(dir, 1024 * MiB, delta, data))
        await rm(join(dir, 'child.vhd'), { force: true })
        times.large = Math.min(times.large, await mergeInto(dir, 4096 * MiB, delta, data))
      }
      const round3 = (x: number): number => Math.round(x * 1000) / 1000
      report({
        name: 'vhd merge 5% delta into 4 GiB parent',
        value: round3(times.large),
        unit: 's',
        reference: { name: 'same delta into 1 GiB parent', value: round3(times.small), unit: 's' },
      })
      const moved = delta.length * BLOCK
      report({
        name: 'vhd merge throughput (moved bytes, 1 GiB parent)',
        value: rate(moved, times.small),
        unit: 'MiB/s',
        reference: {
          name: 'dd bs=2M conv=fdatasync, same bytes',
          value: Math.round((await ddWriteRate(dir, moved)) * 10) / 10,
          unit: 'MiB/s',
        },
      })
    },
  },
]
