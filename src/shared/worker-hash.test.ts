import assert from 'node:assert/strict'
import { createHash, randomFillSync } from 'node:crypto'
import { describe, it } from 'node:test'
import { RING_BYTES, WorkerHash } from './worker-hash.ts'

describe('WorkerHash', () => {
  it('gives node:crypto digest of chunks of every size, the ring wrapping many times', async () => {
    // Sizes that fill the ring unevenly, hit its end exactly, exceed a quarter of it and all of it.
    const sizes = [
      1,
      65_536,
      RING_BYTES / 4,
      RING_BYTES / 4 + 1,
      3_000_001,
      RING_BYTES,
      7,
      2 * RING_BYTES + 5,
    ]
    for (let round = 0; round < 3; round++) sizes.push(...sizes.slice(0, 8))
    const scratch = Buffer.alloc(2 * RING_BYTES + 5)
    const expected = createHash('md5')
    const hash = new WorkerHash('md5')
    for (const size of sizes) {
      // One buffer reused for every chunk, as a source may: the hash must have copied the last one.
      const chunk = randomFillSync(scratch.subarray(0, size))
      expected.update(chunk)
      await hash.update(chunk)
    }
    assert.equal(await hash.digest(), expected.digest('hex'), 'digest of every byte in order')
  })

  it('digests an empty stream, and refuses updates once closed', async () => {
    const empty = new WorkerHash('sha256')
    assert.equal(await empty.digest(), createHash('sha256').digest('hex'), 'digest of nothing')
    const closed = new WorkerHash('md5')
    await closed.update(new Uint8Array(10))
    await closed.close()
    await closed.close()
    await assert.rejects(closed.update(new Uint8Array(1)), /closed/)
    await assert.rejects(closed.digest(), /closed/)
  })

  it('refuses a second update while one is in progress (a hash takes bytes in order)', async () => {
    const hash = new WorkerHash('md5')
    const first = hash.update(new Uint8Array(10))
    await assert.rejects(hash.update(new Uint8Array(10)), /in progress/)
    await first
    await hash.update(new Uint8Array(10))
    assert.equal(
      await hash.digest(),
      createHash('md5').update(new Uint8Array(20)).digest('hex'),
      'both updates',
    )
  })

  it('fails with the thread when the algorithm is unknown', async () => {
    const hash = new WorkerHash('no-such-hash')
    await assert.rejects(
      (async () => {
        for (let i = 0; i < 100; i++) await hash.update(new Uint8Array(RING_BYTES / 2))
        await hash.digest()
      })(),
      /no-such-hash|Digest method not supported|exited/,
    )
    await hash.close()
  })
})
