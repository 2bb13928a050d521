// VHD benchmarks (issue 3): stream write and chain read, each against the same I/O done plainly.
// Write: ours ends with fdatasync; the reference is `dd conv=fdatasync` copying the same bytes (from
// a file in the page cache) to the same disk. Read: both sides read files just written, so from the
// page cache; the reference is an fs read loop of the same byte count from the chain's base file
// into one reused buffer, in this process (no spawn, no format). Merge: see vhd-merge.bench.ts.
import { randomBytes } from 'node:crypto'
import { appendFile, open, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { LocalFile, VhdChain, chainToRaw } from '../src/formats/vhd/index.ts'
import type { Benchmark, Sample, Side } from './harness.ts'
import { timeWithCpu } from './harness.ts'
import { run, timeCommand } from './processes.ts'
import { BLOCK, MiB, sameBlocks, writeVhd } from './vhd-files.ts'

const WRITE_BLOCKS = Number(process.env.BENCH_VHD_WRITE_MIB ?? 256) / 2
const READ_BLOCKS = Number(process.env.BENCH_VHD_READ_MIB ?? 512) / 2

/** Reads `bytes` of `path` from offset 0 in BLOCK reads into one buffer (the plain-read reference). */
async function readPlain(path: string, bytes: number): Promise<void> {
  const handle = await open(path, 'r')
  try {
    const buffer = Buffer.allocUnsafe(BLOCK)
    for (let offset = 0; offset < bytes; offset += BLOCK) {
      const { bytesRead } = await handle.read(buffer, 0, BLOCK, offset)
      if (bytesRead !== BLOCK) throw new Error(`${path}: short read at ${offset}`)
    }
  } finally {
    await handle.close()
  }
}

export const benchmarks: Benchmark[] = [
  {
    name: 'vhd.stream-write',
    async setup({ dir }) {
      const data = randomBytes(BLOCK)
      const bytes = WRITE_BLOCKS * BLOCK
      // dd copies `data` repeated from a file written once (in the page cache). Not /dev/zero: this
      // disk turns zero writes into discards, and the same content on both sides keeps any host-side
      // compression or dedup from favouring one.
      const ddSource = join(dir, 'dd-source.raw')
      await writeFile(ddSource, new Uint8Array(0))
      for (let i = 0; i < WRITE_BLOCKS; i++) await appendFile(ddSource, data)
      await run('sync', [])
      const work = { amount: bytes / MiB, unit: 'MiB' }
      const timedThenClean = async (fn: () => Promise<Sample>, file: string): Promise<Sample> => {
        const sample = await fn()
        await rm(join(dir, file), { force: true })
        await run('sync', [])
        return sample
      }
      const ddArgs = [`if=${ddSource}`, `of=${join(dir, 'dd.raw')}`, 'bs=2M', 'conv=fdatasync', 'status=none']
      const source = sameBlocks(bytes, [...Array(WRITE_BLOCKS).keys()], data)
      return {
        sides: {
          dd: {
            name: `dd bs=2M conv=fdatasync of the same ${bytes / MiB} MiB`,
            work,
            measure: () => timedThenClean(() => timeCommand('dd', ddArgs), 'dd.raw'),
          },
          ours: {
            name: `planVhdStream + writeVhdStream to a local file + fdatasync, ${bytes / MiB} MiB of data`,
            work,
            measure: () =>
              timedThenClean(
                () => timeWithCpu(() => writeVhd(join(dir, 'stream.vhd'), source)),
                'stream.vhd',
              ),
          },
        },
        figures: [{ name: 'vhd.stream-write', subject: 'ours', reference: 'dd' }],
      }
    },
  },
  {
    name: 'vhd.chain-read',
    async setup({ dir }) {
      const size = READ_BLOCKS * BLOCK
      const data = randomBytes(BLOCK)
      const base = join(dir, 'l0.vhd')
      let parent = {
        uniqueId: await writeVhd(base, sameBlocks(size, [...Array(READ_BLOCKS).keys()], data)),
        relativePath: 'l0.vhd',
      }
      // Three deltas of 10% each: reads cross four levels.
      for (let level = 1; level <= 3; level++) {
        const indexes = Array.from({ length: READ_BLOCKS / 10 }, (_, i) => (i * 10 + level) % READ_BLOCKS)
        parent = {
          uniqueId: await writeVhd(
            join(dir, `l${level}.vhd`),
            sameBlocks(
              size,
              indexes.sort((a, b) => a - b),
              data,
            ),
            parent,
          ),
          relativePath: `l${level}.vhd`,
        }
      }
      const chain = await VhdChain.open(join(dir, 'l3.vhd'), (p) => LocalFile.open(p))
      const work = { amount: size / MiB, unit: 'MiB' }
      const chainRead = (reuseBuffer: boolean): Side => ({
        name: `chainToRaw of a 4-level chain, ${size / MiB} MiB, ${reuseBuffer ? 'reused buffer' : 'a new buffer per block'}`,
        work,
        measure: () =>
          timeWithCpu(async () => {
            for await (const chunk of chainToRaw(chain, { reuseBuffer })) if (chunk.length === 0) break
          }),
      })
      return {
        sides: {
          fresh: chainRead(false),
          plain: {
            name: `fs read of the same ${size / MiB} MiB from the chain's base file, 2 MiB reads, one buffer`,
            work,
            measure: () => timeWithCpu(() => readPlain(base, size)),
          },
          reused: chainRead(true),
        },
        figures: [
          { name: 'vhd.chain-read.new-buffers', subject: 'fresh', reference: 'plain' },
          { name: 'vhd.chain-read.reused-buffer', subject: 'reused', reference: 'plain' },
        ],
        close: () => chain.close(),
      }
    },
  },
]
