import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import { gzipSync } from 'node:zlib'
import type { BlockRecipe } from './block-content.ts'
import { fillBlock, mix32, selectBlocks } from './block-content.ts'
import { VDI_BLOCK_BYTES } from './block-store.ts'

const whole = (recipe: Partial<BlockRecipe>): Buffer =>
  fillBlock(
    { key: 7, index: 0, pattern: 'random', validBytes: VDI_BLOCK_BYTES, ...recipe },
    Buffer.alloc(VDI_BLOCK_BYTES),
  )
const sha = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex')

describe('seeded block content', () => {
  it('selects exactly the asked number of distinct ascending blocks, the same for the same seed', () => {
    for (const [total, count] of [
      [0, 0],
      [1, 1],
      [10, 0],
      [10, 10],
      [2048, 1024],
      [2049, 7],
    ] as const) {
      const chosen = selectBlocks(total, count, 42)
      assert.equal(chosen.length, count)
      assert.ok(
        chosen.every((index, i) => index >= 0 && index < total && (i === 0 || index > (chosen[i - 1] ?? -1))),
        'chosen.every((index, i) => index >= 0 && index < total && (i === 0 || index > (chosen[i - 1] ?? -...',
      )
      assert.deepEqual(selectBlocks(total, count, 42), chosen)
    }
    assert.notDeepEqual(selectBlocks(2048, 100, 1), selectBlocks(2048, 100, 2))
    // Spread over the disk, not bunched at its start.
    const half = selectBlocks(2048, 1024, 9)
    assert.ok(
      half.filter((i) => i < 1024).length > 400 && half.filter((i) => i >= 1024).length > 400,
      'half.filter((i) => i < 1024).length > 400 && half.filter((i) => i >= 1024).length > 400',
    )
    assert.throws(() => selectBlocks(3, 4, 1), RangeError)
    assert.throws(() => selectBlocks(3, -1, 1), RangeError)
  })

  it('mixes every input: seeds differing in one bit or only above 32 bits give different keys', () => {
    assert.notEqual(mix32(1, 0), mix32(1, 1))
    assert.notEqual(mix32(1, 2 ** 32), mix32(1, 0))
    assert.notEqual(mix32(1, 2), mix32(2, 1))
    assert.equal(mix32(5, 6, 7), mix32(5, 6, 7))
  })

  it('fills the same bytes for the same recipe, different bytes for every other block, key or pattern', () => {
    const a = whole({ index: 3 })
    assert.equal(sha(whole({ index: 3 })), sha(a))
    const others = [whole({ index: 4 }), whole({ index: 3, key: 8 }), whole({ index: 3, pattern: 'text' })]
    for (const other of others) assert.notEqual(sha(other), sha(a))
    // No 4 KiB sector repeats inside a block either (nothing for per-sector deduplication).
    const sectors = new Set<string>()
    for (let at = 0; at < VDI_BLOCK_BYTES; at += 4096) sectors.add(sha(a.subarray(at, at + 4096)))
    assert.equal(sectors.size, VDI_BLOCK_BYTES / 4096)
  })

  it('random blocks do not compress; text blocks are printable and compress', () => {
    const random = whole({ index: 1 })
    assert.ok(
      gzipSync(random).length > random.length * 0.99,
      'gzipSync(random).length > random.length * 0.99',
    )
    const text = whole({ index: 1, pattern: 'text' })
    assert.ok(
      text.every((byte) => byte === 0x0a || (byte >= 0x20 && byte < 0x7f)),
      'text.every((byte) => byte === 0x0a || (byte >= 0x20 && byte < 0x7f))',
    )
    const ratio = text.length / gzipSync(text).length
    assert.ok(ratio > 2 && ratio < 6, `gzip ratio ${ratio}`)
  })

  it('leaves zeros past validBytes (a disk ending inside its last block) and fills unaligned buffers alike', () => {
    for (const pattern of ['random', 'text'] as const) {
      const full = whole({ pattern })
      const short = whole({ pattern, validBytes: 1001 })
      assert.deepEqual(short.subarray(0, 1001), full.subarray(0, 1001))
      assert.ok(
        short.subarray(1001).every((byte) => byte === 0),
        'short.subarray(1001).every((byte) => byte === 0)',
      )
      const backing = Buffer.alloc(VDI_BLOCK_BYTES + 3, 0xff)
      const unaligned = backing.subarray(3)
      fillBlock({ key: 7, index: 0, pattern, validBytes: 1001 }, unaligned)
      assert.deepEqual(unaligned, short)
    }
  })
})
