import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ByteCursor } from './byte-cursor.ts'

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values)

describe('ByteCursor', () => {
  it('reads across source chunks, skips, and reports short reads at the end', async () => {
    const cursor = new ByteCursor([bytes(1, 2), bytes(), bytes(3, 4, 5), bytes(6)])
    assert.deepEqual(await cursor.read(3), bytes(1, 2, 3))
    assert.equal(await cursor.skip(2), 2)
    assert.equal(cursor.position, 5)
    assert.deepEqual(await cursor.read(4), bytes(6))
    assert.equal(await cursor.atEnd(), true)
    assert.deepEqual(await cursor.read(1), bytes())
    assert.equal(await cursor.skip(10), 0)
  })

  it('returns views without copying when one chunk holds the read', async () => {
    const chunk = bytes(9, 8, 7, 6)
    const cursor = new ByteCursor([chunk])
    const out = await cursor.read(2)
    assert.equal(out.buffer, chunk.buffer)
  })

  it('closes the source generator', async () => {
    let cleaned = false
    async function* source() {
      try {
        yield await Promise.resolve(bytes(1))
        yield bytes(2)
      } finally {
        cleaned = true
      }
    }
    const cursor = new ByteCursor(source())
    await cursor.read(1)
    await cursor.close()
    assert.equal(cleaned, true)
  })
})
