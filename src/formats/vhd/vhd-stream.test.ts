import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { chainToRaw, writeVhdStream } from './conversions.ts'
import { MAX_VIRTUAL_SIZE } from './constants.ts'
import { BufferFile } from './random-access-file.ts'
import {
  bufferBlockSource,
  collect,
  createRandom,
  randomInt,
  randomSparseDisk,
} from './testing/random-disk.ts'
import { VhdChain } from './vhd-chain.ts'
import { VhdFile } from './vhd-file.ts'
import { parseVhdStream } from './vhd-stream-parser.ts'
import { planVhdStream } from './vhd-stream-writer.ts'

const MiB = 2 ** 20
const uuid = '11111111-2222-4333-8444-555555555555'

async function writeToBuffer(disk: Uint8Array, blockSize?: number): Promise<BufferFile> {
  const stream = planVhdStream(bufferBlockSource(disk, blockSize), {
    uniqueId: uuid,
    timestampMs: Date.UTC(2026, 0, 1),
  })
  const file = new BufferFile(new Uint8Array(0), 'disk.vhd')
  await writeVhdStream(stream, file)
  assert.equal(file.bytes.length, stream.sizeBytes)
  return file
}

describe('VHD stream writer and readers', () => {
  it('round-trips random sparse disks raw -> VHD -> raw (random access, chain view and stream parser)', async () => {
    const random = createRandom(42)
    // Empty, sector-sized, not a multiple of 2 MiB, exact multiples: the property holds for each.
    const sizes = [
      0,
      512,
      3 * MiB + 512,
      4 * MiB,
      ...Array.from({ length: 6 }, () => randomInt(random, 1, 24 * 2048) * 512),
    ]
    for (const size of sizes) {
      const disk = randomSparseDisk(random, size, randomInt(random, 0, 12))
      const file = await writeToBuffer(disk)
      const vhd = await VhdFile.open(file)
      assert.equal(vhd.virtualSize, size)
      const chain = await VhdChain.open('disk.vhd', () => Promise.resolve(file))
      assert.deepEqual(await collect(chainToRaw(chain)), disk, `chain read of size ${size}`)
      const at = randomInt(random, 0, Math.max(0, size - 1))
      const length = Math.min(size - at, 3 * MiB)
      assert.deepEqual(await vhd.read(at, length), disk.subarray(at, at + length))
      const parsed = await parseVhdStream([file.bytes], 'disk.vhd')
      const out = new Uint8Array(size)
      for await (const block of parsed.blocks()) out.set(block.data, block.index * parsed.blockSize)
      assert.deepEqual(out, disk, `stream parse of size ${size}`)
    }
  })

  it('knows the stream size before the first byte and allocates only non-zero blocks', () => {
    const disk = new Uint8Array(10 * MiB)
    disk[5 * MiB] = 1
    const stream = planVhdStream(bufferBlockSource(disk), { uniqueId: uuid, timestampMs: 0 })
    assert.equal(stream.sizeBytes, 512 + 1024 + 512 + (512 + 2 * MiB) + 512)
  })

  it('writes a sparse disk at the 2040 GiB limit and refuses one sector more', async () => {
    const blockSize = 2 * MiB
    const blocks = [0, 7, MAX_VIRTUAL_SIZE / blockSize - 1]
    const data = new Uint8Array(blockSize).fill(0xab)
    const source = {
      virtualSize: MAX_VIRTUAL_SIZE,
      blockSize,
      blockIndexes: blocks,
      blocks: async function* () {
        for (const index of blocks) yield await Promise.resolve({ index, data })
      },
    }
    const file = new BufferFile()
    await writeVhdStream(planVhdStream(source, { uniqueId: uuid, timestampMs: 0 }), file)
    const vhd = await VhdFile.open(file)
    assert.equal(vhd.virtualSize, MAX_VIRTUAL_SIZE)
    assert.deepEqual(vhd.blockIndexes(), blocks)
    assert.deepEqual(await vhd.read(MAX_VIRTUAL_SIZE - 4, 4), new Uint8Array(4).fill(0xab))
    assert.deepEqual(await vhd.read(8 * blockSize, 4), new Uint8Array(4))
    assert.throws(
      () =>
        planVhdStream({ ...source, virtualSize: MAX_VIRTUAL_SIZE + 512 }, { uniqueId: uuid, timestampMs: 0 }),
      { code: 'VHD_BAD_ARGUMENT' },
    )
  })

  it('parses a stream delivered in odd-sized chunks and rejects a truncated one', async () => {
    const disk = randomSparseDisk(createRandom(7), 5 * MiB, 6)
    const bytes = (await writeToBuffer(disk)).bytes
    const chunks = Array.from({ length: Math.ceil(bytes.length / 777) }, (_, i) =>
      bytes.subarray(i * 777, (i + 1) * 777),
    )
    const parsed = await parseVhdStream(chunks)
    const out = new Uint8Array(disk.length)
    for await (const block of parsed.blocks()) out.set(block.data, block.index * parsed.blockSize)
    assert.deepEqual(out, disk)
    const truncated = await parseVhdStream([bytes.subarray(0, bytes.length - 600)])
    await assert.rejects(
      collect(
        (async function* () {
          for await (const b of truncated.blocks()) yield b.data
        })(),
      ),
      { code: 'VHD_TRUNCATED' },
    )
  })

  it('refuses a disk larger than the caller takes from the footer, before reading the BAT', async () => {
    const bytes = (await writeToBuffer(randomSparseDisk(createRandom(3), 5 * MiB, 2))).bytes
    let readPastHeader = false
    const source = (function* () {
      yield bytes.subarray(0, 512)
      readPastHeader = true
      yield bytes.subarray(512)
    })()
    await assert.rejects(
      parseVhdStream(source, 'upload', { maxVirtualSizeBytes: 4 * MiB }),
      (error: Error) => {
        assert.match(error.message, /footer\.currentSize/)
        assert.match(error.message, /<= 4194304 \(the size of the target\)/)
        return true
      },
    )
    assert.equal(readPastHeader, false)
    const parsed = await parseVhdStream([bytes], 'upload', { maxVirtualSizeBytes: 5 * MiB })
    assert.equal(parsed.virtualSize, 5 * MiB)
  })

  it('keeps only the BAT entries the disk needs; entries past its last block must be unused', async () => {
    // A 1.5 MiB disk of 512 KiB blocks with a BAT sized for 16 entries (as if made for growth).
    const blockSize = 512 * 1024
    const disk = randomSparseDisk(createRandom(5), 3 * blockSize, 3)
    const bytes = Uint8Array.from((await writeToBuffer(disk, blockSize)).bytes)
    const view = new DataView(bytes.buffer)
    const header = 512
    const tableOffset = Number(view.getBigUint64(header + 16))
    assert.equal(view.getUint32(header + 28), 3)
    // The BAT's sector has room for 128 entries, padded with 0xFFFFFFFF: declare 16 of them.
    view.setUint32(header + 28, 16)
    const resum = (): void => {
      view.setUint32(header + 36, 0)
      let sum = 0
      for (let i = header; i < header + 1024; i++) sum += bytes[i] ?? 0
      view.setUint32(header + 36, ~sum >>> 0)
    }
    resum()
    const parsed = await parseVhdStream([bytes])
    const out = new Uint8Array(disk.length)
    for await (const block of parsed.blocks()) out.set(block.data, block.index * parsed.blockSize)
    assert.deepEqual(out, disk)
    // An allocated entry past the disk's last block is refused, naming it.
    view.setUint32(tableOffset + 5 * 4, view.getUint32(tableOffset))
    await assert.rejects(parseVhdStream([bytes], 'upload'), (error: Error) => {
      assert.match(error.message, /bat\[5\]/)
      assert.match(error.message, /past the disk's last block 2/)
      return true
    })
  })
})
