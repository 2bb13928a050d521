import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { describe, it } from 'node:test'
import { checkedChunks, collectStream, sliceBytes, sourceChunks } from './byte-streams.ts'
import { isRemoteError } from './remote-error.ts'

async function* pieces(...parts: string[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield await Promise.resolve(Buffer.from(part))
}

describe('byte streams', () => {
  it('slices [skip, skip + length) across chunk boundaries', async () => {
    const text = async (skip: number, length: number | undefined) =>
      (await collectStream(sliceBytes(pieces('abc', 'defg', '', 'hij'), skip, length))).toString()
    assert.equal(await text(0, undefined), 'abcdefghij')
    assert.equal(await text(2, 3), 'cde')
    assert.equal(await text(3, 4), 'defg')
    assert.equal(await text(8, 10), 'ij')
    assert.equal(await text(5, 0), '')
    assert.equal(await text(20, undefined), '')
  })

  it('accepts bytes, iterables and Node streams, and refuses non-byte chunks', async () => {
    assert.equal((await collectStream(sourceChunks(Buffer.from('xy')))).toString(), 'xy')
    assert.equal(
      (await collectStream(sourceChunks(Readable.from([Buffer.from('a'), Buffer.from('b')])))).toString(),
      'ab',
    )
    await assert.rejects(
      collectStream(sourceChunks(Readable.from(['text'], { objectMode: true }))),
      (e: unknown) => isRemoteError(e, 'IO_ERROR'),
    )
  })

  it('fails SIZE_MISMATCH as soon as a source is longer than announced, and at the end when shorter', async () => {
    const seen: string[] = []
    const run = async (size: number) => {
      for await (const chunk of checkedChunks(pieces('abc', 'def', 'ghi'), 'p', size))
        seen.push(Buffer.from(chunk).toString())
    }
    await assert.rejects(run(4), (e: unknown) => isRemoteError(e, 'SIZE_MISMATCH') && /more/.test(e.message))
    assert.deepEqual(seen, ['abc'], 'stopped before passing the excess on')
    await assert.rejects(
      run(10),
      (e: unknown) => isRemoteError(e, 'SIZE_MISMATCH') && /got 9/.test(e.message),
    )
    seen.length = 0
    await run(9)
    assert.deepEqual(seen, ['abc', 'def', 'ghi'])
  })
})
