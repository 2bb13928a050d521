// VHD merge benchmark (issue 3): a 5% delta merged into a sparse dynamic parent.
// - Against the same delta merged into a 4× larger parent: the cost must follow the delta, not the
//   parent (XO users report "clean" phases of hours per VM).
// - Against a plain copy doing the merge's I/O without the VHD logic: the same delta blocks read
//   from the child at their offsets and appended to the parent with the same writes per block (EOF
//   footer, bitmap + data, BAT entry), and the same durability steps (merge state written
//   atomically before and after, fdatasync of the data, footer at EOF and at 0, fdatasync, rename
//   over the child, directory fsyncs). What remains in the ratio is parsing, planning, bitmaps and
//   buffers: our overhead.
// Every side gets a fresh parent and child (a merge consumes them); building them is not timed.
import { randomBytes } from 'node:crypto'
import { open, rename, rm } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { LocalFile, VhdFile, localMergeStore, mergeVhdChain } from '../src/formats/vhd/index.ts'
import type { Benchmark, Side } from './harness.ts'
import { timeWithCpu } from './harness.ts'
import { BLOCK, MiB, ZERO_BLOCK, sameBlocks, writeVhd } from './vhd-files.ts'

const SECTOR = 512
// 26 blocks of 2 MiB, spread: 5% of a 1 GiB disk. The parent has every other block allocated.
const DELTA = Array.from({ length: 26 }, (_, i) => i * 19 + 1)

interface Prepared {
  readonly parent: string
  readonly child: string
}

async function prepare(dir: string, parentBytes: number, data: Uint8Array): Promise<Prepared> {
  const parent = join(dir, 'parent.vhd')
  const child = join(dir, 'child.vhd')
  const parentBlocks = Array.from({ length: parentBytes / BLOCK / 2 }, (_, i) => i * 2)
  const uniqueId = await writeVhd(parent, sameBlocks(parentBytes, parentBlocks, ZERO_BLOCK), undefined, true)
  await writeVhd(child, sameBlocks(parentBytes, DELTA, data), { uniqueId, relativePath: 'parent.vhd' })
  return { parent, child }
}

async function cleanUp(dir: string): Promise<void> {
  for (const name of ['parent.vhd', 'child.vhd', '.parent.vhd.merge.json'])
    await rm(join(dir, name), { force: true })
}

/** Offsets the plain copy needs, read with the library before the timing starts. */
async function layout(prepared: Prepared) {
  const open = async (path: string) => VhdFile.open(await LocalFile.open(path))
  const [parent, child] = [await open(prepared.parent), await open(prepared.child)]
  try {
    const blockBytes = child.bitmapSize + child.blockSize
    const reads = DELTA.map((index) => ({ index, offset: child.blockOffset(index) as number }))
    const parentEnd = (await parent.file.size()) - SECTOR
    return { blockBytes, reads, parentEnd, batOffset: parent.header?.tableOffset ?? 0 }
  } finally {
    await parent.close()
    await child.close()
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  await handle.sync()
  await handle.close()
}

/** What localMergeStore.writeFile does: temp file, write, fdatasync, rename, fsync of the directory. */
async function writeStateFile(dir: string, state: string): Promise<void> {
  const temp = join(dir, '.parent.vhd.merge.json.tmp')
  const handle = await open(temp, 'w')
  await handle.write(state)
  await handle.datasync()
  await handle.close()
  await rename(temp, join(dir, '.parent.vhd.merge.json'))
  await syncDir(dir)
}

async function plainCopy(dir: string, prepared: Prepared, plan: Awaited<ReturnType<typeof layout>>) {
  const state = JSON.stringify({ step: 'mergeBlocks', chain: ['parent.vhd', 'child.vhd'], currentBlock: 0 })
  await writeStateFile(dir, state)
  let source: FileHandle | undefined
  let target: FileHandle | undefined
  try {
    source = await open(prepared.child, 'r')
    target = await open(prepared.parent, 'r+')
    const footer = Buffer.alloc(SECTOR)
    const batEntry = Buffer.alloc(4)
    let end = plan.parentEnd
    for (const { index, offset } of plan.reads) {
      // A new buffer per block, as the merge reads each block into a new one.
      const block = Buffer.allocUnsafe(plan.blockBytes)
      await source.read(block, 0, block.length, offset)
      await target.write(footer, 0, SECTOR, end + block.length)
      await target.write(block, 0, block.length, end)
      batEntry.writeUInt32BE(end / SECTOR)
      await target.write(batEntry, 0, 4, plan.batOffset + index * 4)
      end += block.length
    }
    await target.datasync()
    await target.write(footer, 0, SECTOR, end)
    await target.write(footer, 0, SECTOR, 0)
    await target.datasync()
  } finally {
    await source?.close()
    await target?.close()
  }
  await writeStateFile(dir, state)
  await rename(prepared.parent, prepared.child)
  await syncDir(dir)
  await rm(join(dir, '.parent.vhd.merge.json'))
}

export const benchmarks: Benchmark[] = [
  {
    name: 'vhd.merge',
    setup({ dir }) {
      const data = randomBytes(BLOCK)
      const moved = (DELTA.length * BLOCK) / MiB
      // Rates of moved bytes on every side: for the parent-size figure, a ratio of 1 means the
      // merge time does not depend on the parent's size.
      const merge = (parentMiB: number): Side => ({
        name: `mergeVhdChain of a ${moved} MiB delta into a sparse ${parentMiB} MiB parent`,
        work: { amount: moved, unit: 'MiB' },
        async measure() {
          const prepared = await prepare(dir, parentMiB * MiB, data)
          const sample = await timeWithCpu(() =>
            mergeVhdChain(localMergeStore, [prepared.parent, prepared.child]),
          )
          await cleanUp(dir)
          return sample
        },
      })
      return Promise.resolve({
        sides: {
          large: merge(4096),
          small: merge(1024),
          copy: {
            name: `plain fs copy of the same ${moved} MiB with the merge's writes and fsyncs, 1024 MiB parent`,
            work: { amount: moved, unit: 'MiB' },
            async measure() {
              const prepared = await prepare(dir, 1024 * MiB, data)
              const plan = await layout(prepared)
              const sample = await timeWithCpu(() => plainCopy(dir, prepared, plan))
              await cleanUp(dir)
              return sample
            },
          },
        },
        figures: [
          { name: 'vhd.merge.4GiB-parent.vs-1GiB-parent', subject: 'large', reference: 'small' },
          { name: 'vhd.merge.vs-plain-copy', subject: 'small', reference: 'copy' },
        ],
      })
    },
  },
]
