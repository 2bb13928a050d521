// `vhd from-raw` against `qemu-img convert -f raw -O vpc -o subformat=dynamic` on the same raw
// image, alternating in every run (issue #7). Ours runs the whole command in this process (argument
// parsing, conversion, fdatasync, rename, directory sync) and so leaves out Node's start-up; qemu-img
// is timed from spawn to exit (through sh). Both read the raw image from the page cache after the
// warm-up run. Inputs: dense (random data), sparse (holes with a few MiB of
// data), and with BENCH_VHD_CONVERT_LARGE=1 a 50 GiB sparse disk.
import { randomFillSync } from 'node:crypto'
import { open, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { cli } from '../src/cli/testing/run-cli.ts'
import type { Benchmark, Sample, Session } from './harness.ts'
import { timeWithCpu } from './harness.ts'
import { run, timeCommand } from './processes.ts'

const MiB = 2 ** 20
const GiB = 2 ** 30
const DENSE_MIB = Number(process.env.BENCH_VHD_CONVERT_DENSE_MIB ?? 1024)
const SPARSE_GIB = Number(process.env.BENCH_VHD_CONVERT_SPARSE_GIB ?? 8)

/** Writes a raw image of `size` bytes: random data in `extents` (offset, length), holes elsewhere. */
async function writeRaw(path: string, size: number, extents: readonly [number, number][]): Promise<void> {
  const file = await open(path, 'w')
  try {
    const chunk = new Uint8Array(4 * MiB)
    for (const [offset, length] of extents) {
      for (let done = 0; done < length; done += chunk.length) {
        const piece = chunk.subarray(0, Math.min(chunk.length, length - done))
        randomFillSync(piece)
        await file.write(piece, 0, piece.length, offset + done)
      }
    }
    await file.truncate(size)
  } finally {
    await file.close()
  }
}

const QEMU_ARGS = ['convert', '-f', 'raw', '-O', 'vpc', '-o', 'subformat=dynamic']

/**
 * Three sides: qemu-img as is (its convert defaults to cache=unsafe: no flush, the VHD is still in
 * the page cache when it exits), qemu-img then `sync --data` on its output (the same durability as
 * ours, which fdatasyncs), and ours. Untimed, the unsynced output is synced before it is removed so
 * that its writeback does not land in the next side's time.
 */
function convertSession(what: string, dir: string, raw: string): Session {
  const qemuOut = join(dir, 'qemu.vhd')
  const ourOut = join(dir, 'ours.vhd')
  const qemu = async (synced: boolean): Promise<Sample> => {
    const sample = await timeCommand(
      'sh',
      ['-c', `qemu-img "$@"${synced ? ' && sync --data "$OUT"' : ''}`, 'sh', ...QEMU_ARGS, raw, qemuOut],
      { env: { ...process.env, OUT: qemuOut } },
    )
    if (!synced) await run('sync', ['--data', qemuOut])
    await rm(qemuOut, { force: true })
    return sample
  }
  return {
    sides: {
      qemu: { name: `qemu-img ${QEMU_ARGS.join(' ')} (no flush: cache=unsafe)`, measure: () => qemu(false) },
      qemuSynced: { name: `qemu-img ${QEMU_ARGS.join(' ')} && sync --data out`, measure: () => qemu(true) },
      ours: {
        name: 'xapi-backup vhd from-raw (in process, fdatasync)',
        async measure(): Promise<Sample> {
          // CPU time too (every thread: the reads and writes run on libuv's pool), so the JSON has
          // a CPU ratio, which a loaded machine moves less than the wall-time one.
          const sample = await timeWithCpu(async () => {
            const result = await cli('vhd', 'from-raw', raw, ourOut)
            if (result.code !== 0) throw new Error(`vhd from-raw failed: ${result.err}`)
          })
          await rm(ourOut, { force: true })
          return sample
        },
      },
    },
    sequence: ['qemu', 'ours', 'qemuSynced'],
    figures: [
      { name: `vhd from-raw ${what}: time ours / qemu-img`, subject: 'ours', reference: 'qemu' },
      {
        name: `vhd from-raw ${what}: time ours / (qemu-img + sync --data)`,
        subject: 'ours',
        reference: 'qemuSynced',
      },
    ],
  }
}

/** A sparse image of `size` bytes with 8 MiB of data in 8 extents spread over it. */
const sparseExtents = (size: number): [number, number][] =>
  Array.from({ length: 8 }, (_, i) => [Math.floor((size / 8) * i + 3 * MiB), MiB])

const sparse = (gib: number): Benchmark => ({
  name: `vhd-convert.sparse-${gib}g`,
  async setup({ dir, log }) {
    const raw = join(dir, 'sparse.raw')
    log(`writing a ${gib} GiB sparse raw image (8 MiB of data)`)
    await writeRaw(raw, gib * GiB, sparseExtents(gib * GiB))
    return convertSession(`${gib} GiB sparse (8 MiB of data)`, dir, raw)
  },
})

export const benchmarks: Benchmark[] = [
  {
    name: 'vhd-convert.dense',
    async setup({ dir, log }) {
      const raw = join(dir, 'dense.raw')
      log(`writing a ${DENSE_MIB} MiB raw image of random data`)
      await writeRaw(raw, DENSE_MIB * MiB, [[0, DENSE_MIB * MiB]])
      return convertSession(`${DENSE_MIB} MiB of random data`, dir, raw)
    },
  },
  sparse(SPARSE_GIB),
  ...(process.env.BENCH_VHD_CONVERT_LARGE === '1' ? [sparse(50)] : []),
]
