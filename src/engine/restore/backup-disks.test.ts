import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { BlockSource } from '../../formats/block-source.ts'
import { fitToRecordedSize } from './backup-disks.ts'

const MiB = 1024 * 1024

async function* toAsync<T>(items: readonly T[]): AsyncGenerator<T> {
  for (const item of items) yield await Promise.resolve(item)
}

function source(virtualSize: number, blockIndexes: number[]): BlockSource {
  return {
    virtualSize,
    blockSize: 2 * MiB,
    blockIndexes,
    blocks: () =>
      toAsync(blockIndexes.map((index) => ({ index, data: new Uint8Array(2 * MiB).fill(index + 1) }))),
  }
}

describe('fitToRecordedSize', () => {
  it('cuts a geometry-rounded VHD to the recorded size when the cut holds no block', async () => {
    const fitted = fitToRecordedSize(source(2123776, [0]), 2 * MiB)
    assert.equal(fitted.virtualSize, 2 * MiB)
    assert.deepEqual(fitted.blockIndexes, [0])
    const blocks = []
    for await (const block of fitted.blocks()) blocks.push(block.index)
    assert.deepEqual(blocks, [0])
  })

  it('never drops data: a block reaching past the recorded size keeps the source size', () => {
    const original = source(6 * MiB, [0, 2])
    assert.equal(fitToRecordedSize(original, 5 * MiB), original)
    assert.equal(fitToRecordedSize(original, 4 * MiB), original)
  })

  it('keeps the source when the recorded size is absent, larger, or not a size', () => {
    const original = source(4 * MiB, [0])
    for (const recorded of [
      undefined,
      null,
      '2097152',
      8 * MiB,
      4 * MiB,
      0,
      -512,
      1000,
      2.5 * MiB + 1,
      Number.NaN,
    ])
      assert.equal(fitToRecordedSize(original, recorded), original, String(recorded))
  })
})
