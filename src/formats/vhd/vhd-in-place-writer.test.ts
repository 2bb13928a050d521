import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { fullBitmap } from './bat.ts'
import { writeVhdStream } from './conversions.ts'
import { BufferFile } from './random-access-file.ts'
import { bufferBlockSource } from './testing/random-disk.ts'
import { VhdFile } from './vhd-file.ts'
import { inspectVhd } from './vhd-inspect.ts'
import { VhdInPlaceWriter } from './vhd-in-place-writer.ts'
import { planVhdStream } from './vhd-stream-writer.ts'

const blockSize = 4096

async function smallDisk(): Promise<BufferFile> {
  const disk = new Uint8Array(3 * blockSize)
  disk.fill(1, 0, blockSize)
  disk.fill(3, 2 * blockSize)
  const file = new BufferFile()
  await writeVhdStream(
    planVhdStream(bufferBlockSource(disk, blockSize), { uniqueId: crypto.randomUUID(), timestampMs: 0 }),
    file,
  )
  return file
}

describe('VhdInPlaceWriter', () => {
  it('grows the BAT past its sector by moving the first blocks to the end, keeping content', async () => {
    const file = await smallDisk()
    const disk = await VhdFile.open(file)
    const before = disk.blockOffset(0)
    const writer = await VhdInPlaceWriter.open(disk)
    await writer.ensureBatSize(300)
    await writer.writeBlock(299, fullBitmap(blockSize), new Uint8Array(blockSize).fill(9))
    const reopened = await VhdFile.open(file, { ignoreFooterCopy: true })
    assert.equal(reopened.bat.length, 300)
    assert.notEqual(reopened.blockOffset(0), before, 'block 0 moved out of the BAT area')
    assert.ok((reopened.blockOffset(0) ?? 0) >= 1536 + 1200, '(reopened.blockOffset(0) ?? 0) >= 1536 + 1200')
    assert.deepEqual(await reopened.read(0, blockSize), new Uint8Array(blockSize).fill(1))
    assert.deepEqual(await reopened.read(2 * blockSize, blockSize), new Uint8Array(blockSize).fill(3))
    assert.deepEqual(await reopened.read(299 * blockSize, 4), new Uint8Array(4).fill(9))
    assert.deepEqual(reopened.blockIndexes(), [0, 2, 299])
    assert.deepEqual((await inspectVhd(file, { ignoreFooterCopy: true })).issues, [])
  })

  it('rewrites a stored block in place without growing the file', async () => {
    const file = await smallDisk()
    const size = file.bytes.length
    const writer = await VhdInPlaceWriter.open(await VhdFile.open(file))
    await writer.writeBlock(0, fullBitmap(blockSize), new Uint8Array(blockSize).fill(7))
    assert.equal(file.bytes.length, size)
    assert.deepEqual(await (await VhdFile.open(file)).read(0, 2), new Uint8Array([7, 7]))
  })
})
