import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isAllZero } from './bytes.ts'

describe('isAllZero', () => {
  it('answers for any length and any (unaligned) offset', () => {
    const buffer = new Uint8Array(3 * 1024 * 1024 + 13)
    for (const [start, end] of [
      [0, 0],
      [1, 2],
      [3, 3 * 1024 * 1024],
      [7, buffer.length],
    ] as const) {
      assert.equal(isAllZero(buffer.subarray(start, end)), true, `${start}-${end}`)
    }
    buffer[2 * 1024 * 1024 + 5] = 1
    assert.equal(isAllZero(buffer.subarray(3)), false)
    assert.equal(isAllZero(buffer.subarray(2 * 1024 * 1024 + 6)), true)
  })
})
