import assert from 'node:assert/strict'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { describe, it } from 'node:test'
import { createFixedClock } from './clock.ts'
import { countBytes, throttle } from './streams.ts'

async function collect(source: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = []
  for await (const chunk of source) out.push(chunk)
  return out
}

describe('countBytes', () => {
  it('counts every byte and passes chunks through unchanged inside pipeline()', async () => {
    let total = 0
    const received: Buffer[] = []
    await pipeline(
      Readable.from([Buffer.from('abc'), Buffer.alloc(1000, 1)]),
      countBytes((n) => (total += n)),
      new Writable({
        write(chunk: Buffer, _enc, callback) {
          received.push(chunk)
          callback()
        },
      }),
    )
    assert.equal(total, 1003)
    assert.equal(Buffer.concat(received).subarray(0, 3).toString(), 'abc')
  })
})

describe('throttle', () => {
  it('waits exactly what the rate requires after the burst is spent', async () => {
    const clock = createFixedClock()
    const chunks = Array.from({ length: 10 }, () => new Uint8Array(1000))
    const out = await collect(throttle(1000, { clock, burstBytes: 1000 })(Readable.from(chunks)))
    assert.equal(out.length, 10)
    // 10 000 bytes at 1000 B/s with a 1000-byte burst: 9 seconds of waiting.
    assert.equal(clock.sleptMs, 9000)
  })

  it('does not wait while under the rate', async () => {
    const clock = createFixedClock()
    async function* slow() {
      for (let i = 0; i < 5; i++) {
        clock.advance(1000)
        yield await Promise.resolve(new Uint8Array(500))
      }
    }
    await collect(throttle(1000, { clock })(slow()))
    assert.equal(clock.sleptMs, 0)
  })

  it('rejects a non-positive rate', () => {
    assert.throws(() => throttle(0), RangeError)
  })
})
