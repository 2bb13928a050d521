import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import type { WritableFile } from './conversions.ts'
import {
  chainToRaw,
  convertRawToVhd,
  rawBlockSource,
  writeChainToRaw,
  writeVhdStream,
} from './conversions.ts'
import { DiskType } from './constants.ts'
import { BufferFile, LocalFile } from './random-access-file.ts'
import type { RandomAccessFile } from './random-access-file.ts'
import { buildVhd } from './testing/build-vhd.ts'
import { requireOracle, runTool } from './testing/oracles.ts'
import {
  applyExtents,
  assertSameBytes,
  collect,
  collectCopies,
  createRandom,
  randomExtents,
  randomSparseDisk,
} from './testing/random-disk.ts'
import { VhdChain } from './vhd-chain.ts'
import { planVhdStream } from './vhd-stream-writer.ts'

const KiB = 1024
const MiB = 1024 * KiB
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
    assert.ok(base !== undefined, 'base !== undefined')
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

/** Settles after a random number of event-loop turns, so overlapped reads and writes finish out of order. */
function jitter(random: () => number): Promise<void> {
  let turns = Math.floor(random() * 4)
  return new Promise((resolve) => {
    const next = (): void => {
      if (turns-- <= 0) resolve()
      else setImmediate(next)
    }
    next()
  })
}

/** `file` with every read and write delayed by jitter, counting the operations still running. */
function jittery(file: BufferFile, random: () => number, fail: { write?: number; sync?: number } = {}) {
  const state = { inFlight: 0, writes: 0, syncs: 0 }
  const delayed = async <T>(op: () => Promise<T>): Promise<T> => {
    state.inFlight++
    try {
      await jitter(random)
      return await op()
    } finally {
      state.inFlight--
    }
  }
  const wrapped: WritableFile = {
    name: file.name,
    size: () => file.size(),
    read: (offset, length) => delayed(() => file.read(offset, length)),
    readInto: (offset, target) => delayed(() => file.readInto(offset, target)),
    write: (offset, data) =>
      delayed(() => {
        if (++state.writes === fail.write) return Promise.reject(new Error('disk full'))
        return file.write(offset, data)
      }),
    truncate: (size) => file.truncate(size),
    sync: () =>
      delayed(() =>
        ++state.syncs === fail.sync ? Promise.reject(new Error('writeback failed')) : Promise.resolve(),
      ),
  }
  return { file: wrapped, state }
}

/** The VHD the two-pass stream writer makes of `raw` (the reference convertRawToVhd must match). */
async function streamedVhd(
  raw: Uint8Array,
  options: Parameters<typeof convertRawToVhd>[2],
): Promise<Uint8Array> {
  const { parent } = options
  const source = await rawBlockSource(new BufferFile(raw), {
    blockSize,
    ...(parent === undefined ? {} : { parent: parent.chain }),
  })
  const out = new BufferFile()
  const planOptions = { uniqueId: options.uniqueId, timestampMs: options.timestampMs }
  await writeVhdStream(
    planVhdStream(source, parent === undefined ? planOptions : { ...planOptions, parent: parent.ref }),
    out,
  )
  return out.bytes
}

describe('VHD one-pass conversions', () => {
  it('writes from raw in one pass the bytes the stream writer plans, with reads and writes out of order', async () => {
    const random = createRandom(77)
    const { files, contents } = await memoryChain()
    const chain = await VhdChain.open('dir/d2.vhd', openerOf(files))
    const ref = { uniqueId: chain.top.uniqueId, relativePath: 'd2.vhd' }
    // Block multiples, sector multiples, neither, and empty; dense and sparse; plain and delta.
    for (const [rawSize, parent] of [
      [40 * blockSize, undefined],
      [10 * blockSize + 3 * 512, undefined],
      [5 * blockSize, undefined],
      [3 * blockSize + 100, undefined],
      [0, undefined],
      [size, { chain, ref }],
    ] as const) {
      const raw =
        parent === undefined
          ? randomSparseDisk(random, rawSize, rawSize > 10 * blockSize ? 60 : 4, blockSize)
          : (contents[2] as Uint8Array).slice()
      if (parent !== undefined) applyExtents(random, raw, [{ offset: 4 * blockSize, length: 1024 }])
      const options = {
        uniqueId: crypto.randomUUID(),
        timestampMs: 1e12,
        blockSize,
        ...(parent && { parent }),
      }
      const expected = await streamedVhd(raw, options)
      const target = new BufferFile()
      const result = await convertRawToVhd(
        jittery(new BufferFile(raw), random).file,
        jittery(target, random).file,
        options,
      )
      assertSameBytes(
        target.bytes,
        expected,
        `VHD of ${rawSize} bytes${parent === undefined ? '' : ' over a parent'}`,
      )
      assert.equal(result.sizeBytes, expected.length)
      if (parent !== undefined) assert.deepEqual(result.blockIndexes, [4])
    }
  })

  it('fails with a failed write once every read and write has settled, and on a raw image that shrinks', async () => {
    const random = createRandom(5)
    const raw = randomSparseDisk(random, 12 * blockSize, 12, blockSize)
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason)
    }
    process.on('unhandledRejection', onUnhandled)
    try {
      const source = jittery(new BufferFile(raw), random)
      const out = jittery(new BufferFile(), random, { write: 3 })
      const options = { uniqueId: crypto.randomUUID(), timestampMs: 0, blockSize }
      await assert.rejects(convertRawToVhd(source.file, out.file, options), /disk full/)
      assert.deepEqual([source.state.inFlight, out.state.inFlight], [0, 0], 'nothing left running')
      // A background flush that fails fails the conversion, though the final sync would succeed.
      const flushed = jittery(new BufferFile(), random, { sync: 1 })
      await assert.rejects(
        convertRawToVhd(jittery(new BufferFile(raw), random).file, flushed.file, {
          ...options,
          flushEveryBytes: 2 * blockSize,
        }),
        /writeback failed/,
      )
      assert.ok(flushed.state.syncs >= 2, 'later syncs succeeded: the first failure still counts')
      assert.equal(flushed.state.inFlight, 0)
      await new Promise((resolve) => setImmediate(resolve))
      assert.deepEqual(unhandled, [])
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
    // size() says more than the file holds (it shrank after): the missing bytes are an error, not zeros.
    const shrunk = new BufferFile(raw, 'shrunk.raw')
    shrunk.size = () => Promise.resolve(raw.length + 4096)
    await assert.rejects(
      convertRawToVhd(shrunk, new BufferFile(), { uniqueId: crypto.randomUUID(), timestampMs: 0 }),
      (error: Error & { code?: string }) =>
        error.code === 'VHD_TRUNCATED' && error.message.startsWith(`shrunk.raw@${raw.length} raw image`),
    )
  })

  it('writes a chain to raw over an old longer file: emptied, holes kept, length set, synced last', async () => {
    const { files, contents } = await memoryChain()
    const chain = await VhdChain.open('dir/d2.vhd', openerOf(files))
    const target = new BufferFile(new Uint8Array(3 * size).fill(7))
    const ops: string[] = []
    const out: WritableFile = {
      name: 'out.raw',
      size: () => target.size(),
      read: (offset, length) => target.read(offset, length),
      write: (offset, data) => {
        ops.push('write')
        return target.write(offset, data)
      },
      truncate: (length) => {
        ops.push(`truncate ${length}`)
        return target.truncate(length)
      },
      sync: () => {
        ops.push('sync')
        return Promise.resolve()
      },
    }
    assert.equal(await writeChainToRaw(chain, out), size)
    assertSameBytes(target.bytes, contents[2] as Uint8Array, 'raw content')
    assert.deepEqual(
      [ops[0], ...ops.slice(-2)],
      ['truncate 0', `truncate ${size}`, 'sync'],
      'emptied first, synced after the last write and the length',
    )
    assert.ok(ops.filter((op) => op === 'write').length < Math.ceil(size / blockSize), 'zero blocks skipped')
  })

  it('qemu-img reads the VHDs convertRawToVhd writes to local files byte-exact', async (t) => {
    if (!requireOracle(t, 'qemu-img')) return
    const dir = await mkdtemp(join(tmpdir(), 'vhd-convert-'))
    try {
      const random = createRandom(9)
      for (const rawSize of [10 * MiB + 7 * 512, 6 * MiB, 3 * MiB + 100, 0]) {
        const rawPath = join(dir, `${rawSize}.raw`)
        const vhdPath = join(dir, `${rawSize}.vhd`)
        await writeFile(rawPath, randomSparseDisk(random, rawSize, 6))
        const raw = await LocalFile.open(rawPath)
        const out = await LocalFile.open(vhdPath, 'create-new')
        await convertRawToVhd(raw, out, { uniqueId: crypto.randomUUID(), timestampMs: 1e12 })
        await Promise.all([raw.close(), out.close()])
        const info = runTool('qemu-img', ['info', '-f', 'vpc', '--output=json', vhdPath])
        assert.equal(info.status, 0, info.stderr)
        const virtualSize = (JSON.parse(info.stdout) as { 'virtual-size': number })['virtual-size']
        assert.equal(virtualSize, Math.ceil(rawSize / 512) * 512)
        const compare = runTool('qemu-img', ['compare', '-f', 'raw', '-F', 'vpc', rawPath, vhdPath])
        assert.equal(compare.status, 0, `${compare.stdout}${compare.stderr}`)
        assert.match(compare.stdout, /Images are identical/)
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
