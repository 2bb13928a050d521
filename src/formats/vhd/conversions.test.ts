import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { chainToRaw, rawBlockSource, writeVhdStream } from './conversions.ts'
import { DiskType } from './constants.ts'
import { BufferFile } from './random-access-file.ts'
import type { RandomAccessFile } from './random-access-file.ts'
import { buildVhd } from './testing/build-vhd.ts'
import {
  applyExtents,
  assertSameBytes,
  collect,
  collectCopies,
  createRandom,
  randomExtents,
} from './testing/random-disk.ts'
import { VhdChain } from './vhd-chain.ts'
import { planVhdStream } from './vhd-stream-writer.ts'

const KiB = 1024
const blockSize = 64 * KiB
const size = 10 * blockSize + 3 * 512

/** base (dynamic) <- d1 <- d2 with partial bitmaps, in memory; returns the files and each level's content. */
async function memoryChain(): Promise<{ files: Map<string, BufferFile>; contents: Uint8Array[] }> {
  const random = createRandom(31)
  const files = new Map<string, BufferFile>()
  const contents: Uint8Array[] = []
  let content: Uint8Array = new Uint8Array(size)
  let parent: { uniqueId: string; relativePath: string } | undefined
  for (const name of ['base.vhd', 'd1.vhd', 'd2.vhd']) {
    const extents = randomExtents(random, size, 5, blockSize)
    content = applyExtents(random, content.slice(), extents)
    const file = new BufferFile(new Uint8Array(0), `dir/${name}`)
    const uniqueId = crypto.randomUUID()
    await buildVhd(file, {
      virtualSize: size,
      blockSize,
      uniqueId,
      extents,
      content,
      ...(parent === undefined ? {} : { parent }),
    })
    files.set(`dir/${name}`, file)
    contents.push(content)
    parent = { uniqueId, relativePath: name }
  }
  return { files, contents }
}

const openerOf =
  (files: Map<string, BufferFile>) =>
  (path: string): Promise<RandomAccessFile> => {
    const file = files.get(path)
    return file === undefined ? Promise.reject(new Error(`ENOENT ${path}`)) : Promise.resolve(file)
  }

describe('VHD conversions', () => {
  it('re-chains the top two levels as one delta over the base, and flattens the chain to a dynamic disk', async () => {
    const { files, contents } = await memoryChain()
    const chain = await VhdChain.open('dir/d2.vhd', openerOf(files))
    const base = chain.disks[2]
    assert.ok(base !== undefined)
    const delta = new BufferFile(new Uint8Array(0), 'dir/rechained.vhd')
    const source = chain.toBlockSource(2)
    const stored = new Set(chain.disks.slice(0, 2).flatMap((disk) => disk.blockIndexes()))
    assert.deepEqual(
      source.blockIndexes,
      [...stored].sort((a, b) => a - b),
    )
    await writeVhdStream(
      planVhdStream(source, {
        uniqueId: crypto.randomUUID(),
        timestampMs: 0,
        parent: { uniqueId: base.uniqueId, relativePath: 'base.vhd' },
      }),
      delta,
    )
    files.set('dir/rechained.vhd', delta)
    const rechained = await VhdChain.open('dir/rechained.vhd', openerOf(files))
    assert.deepEqual(rechained.paths, ['dir/rechained.vhd', 'dir/base.vhd'])
    assertSameBytes(await collect(chainToRaw(rechained)), contents[2] as Uint8Array, 'rechained')
    const reused = await collectCopies(chainToRaw(chain, { reuseBuffer: true }), size)
    assertSameBytes(reused, contents[2] as Uint8Array, 'chain read with a reused buffer')

    const flat = new BufferFile(new Uint8Array(0), 'dir/flat.vhd')
    await writeVhdStream(
      planVhdStream(chain.toBlockSource(), { uniqueId: crypto.randomUUID(), timestampMs: 0 }),
      flat,
    )
    const flatChain = await VhdChain.open('flat', () => Promise.resolve(flat))
    assert.equal(flatChain.top.diskType, DiskType.dynamic)
    assertSameBytes(await collect(chainToRaw(flatChain)), contents[2] as Uint8Array, 'flattened')
  })

  it('builds a delta from a raw image holding only the blocks that differ from the parent chain', async () => {
    const { files, contents } = await memoryChain()
    const parent = await VhdChain.open('dir/d2.vhd', openerOf(files))
    const next = (contents[2] as Uint8Array).slice()
    next[3 * blockSize + 5] = (next[3 * blockSize + 5] ?? 0) ^ 1
    next[size - 1] = (next[size - 1] ?? 0) ^ 1
    const source = await rawBlockSource(new BufferFile(next), { blockSize, parent })
    assert.deepEqual(source.blockIndexes, [3, 10])
    const sparse = await rawBlockSource(new BufferFile(new Uint8Array(size - 100)), { blockSize })
    assert.equal(sparse.virtualSize, size, 'a raw size is rounded up to a sector')
    assert.deepEqual(sparse.blockIndexes, [])
  })
})
