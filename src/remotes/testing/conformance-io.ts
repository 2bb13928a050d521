import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { it } from 'node:test'
import { readAll } from '../byte-streams.ts'
import { isRemoteError } from '../remote-error.ts'
import type { RemoteFactory } from './conformance-support.ts'
import { patternBytes, rejectsWith, withRemote } from './conformance-support.ts'

async function* chunked(
  data: Buffer,
  chunkBytes: number,
  failAfterBytes?: number,
): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < data.byteLength; offset += chunkBytes) {
    if (failAfterBytes !== undefined && offset >= failAfterBytes) throw new Error('source failed on purpose')
    yield await Promise.resolve(data.subarray(offset, offset + chunkBytes))
  }
}

/** The write part of the conformance suite (declared inside its describe). */
export function conformanceWriteTests(factory: RemoteFactory, largeBytes: number): void {
  it('writes bytes, an async iterable and a Node stream, and reads them back whole', () =>
    withRemote(factory, async (remote) => {
      const data = patternBytes(100_000)
      await remote.write('a/bytes.bin', data)
      await remote.write('a/iter.bin', chunked(data, 7_000))
      await remote.write('a/stream.bin', Readable.from(chunked(data, 65_536)), {
        sizeBytes: data.byteLength,
      })
      await remote.write('a/empty.bin', new Uint8Array(0))
      for (const path of ['a/bytes.bin', 'a/iter.bin', 'a/stream.bin']) {
        assert.ok((await readAll(remote, path)).equals(data), path)
        assert.equal((await remote.stat(path)).sizeBytes, data.byteLength)
      }
      assert.equal((await readAll(remote, 'a/empty.bin')).byteLength, 0)
      assert.deepEqual(await remote.stat('a/empty.bin').then((e) => [e.kind, e.sizeBytes]), ['file', 0])
    }))

  it('streams a large write of unknown length across parts and reads it back', () =>
    withRemote(factory, async (remote) => {
      const data = patternBytes(largeBytes + 12_345, 7)
      await remote.write('big/data.bin', chunked(data, 100_000))
      assert.ok(
        (await readAll(remote, 'big/data.bin')).equals(data),
        "(await readAll(remote, 'big/data.bin')).equals(data)",
      )
      await remote.write('big/sized.bin', chunked(data, 100_000), { sizeBytes: data.byteLength })
      assert.ok(
        (await readAll(remote, 'big/sized.bin')).equals(data),
        "(await readAll(remote, 'big/sized.bin')).equals(data)",
      )
    }))

  it('replaces on write, and publishes nothing from a failing, short or aborted source', () =>
    withRemote(factory, async (remote) => {
      const old = patternBytes(5000, 1)
      const fresh = patternBytes(300_000, 2)
      await remote.write('f.bin', old)
      await assert.rejects(remote.write('f.bin', chunked(fresh, 50_000, 100_000)), /failed on purpose/)
      assert.ok((await readAll(remote, 'f.bin')).equals(old), 'failed write left the old content')
      await rejectsWith(remote.write('f.bin', fresh, { sizeBytes: fresh.byteLength + 1 }), 'SIZE_MISMATCH')
      await rejectsWith(remote.write('f.bin', chunked(fresh, 50_000), { sizeBytes: 1000 }), 'SIZE_MISMATCH')
      await rejectsWith(remote.write('new.bin', chunked(fresh, 50_000), { sizeBytes: 1000 }), 'SIZE_MISMATCH')
      await assert.rejects(remote.write('new.bin', fresh, { signal: AbortSignal.abort() }), {
        name: 'AbortError',
      })
      await rejectsWith(remote.stat('new.bin'), 'NOT_FOUND')
      assert.ok((await readAll(remote, 'f.bin')).equals(old), "(await readAll(remote, 'f.bin')).equals(old)")
      await remote.write('f.bin', chunked(fresh, 50_000))
      assert.ok((await readAll(remote, 'f.bin')).equals(fresh), 'replaced')
    }))

  it('creates conditionally with ifAbsent', () =>
    withRemote(factory, async (remote) => {
      await remote.write('c.bin', Buffer.from('first'), { ifAbsent: true })
      await rejectsWith(remote.write('c.bin', Buffer.from('second'), { ifAbsent: true }), 'ALREADY_EXISTS')
      assert.equal((await readAll(remote, 'c.bin')).toString(), 'first')
      if (!remote.capabilities.conditionalCreate) return
      // Atomic conditional create: of racing creators exactly one wins.
      const results = await Promise.allSettled(
        Array.from({ length: 6 }, (_, i) =>
          remote.write('race.bin', Buffer.from(`writer ${i}`), { ifAbsent: true }),
        ),
      )
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1)
      for (const r of results)
        if (r.status === 'rejected')
          assert.ok(isRemoteError(r.reason, 'ALREADY_EXISTS'), "isRemoteError(r.reason, 'ALREADY_EXISTS')")
    }))
}

/** The read and stat part of the conformance suite (declared inside its describe). */
export function conformanceAccessTests(factory: RemoteFactory): void {
  it('reads ranges [start, end) with end exclusive and clamped, start = size empty', () =>
    withRemote(factory, async (remote) => {
      const data = patternBytes(1000, 3)
      await remote.write('r.bin', data)
      const cases: [number | undefined, number | undefined][] = [
        [0, 1],
        [10, 20],
        [999, 1000],
        [500, undefined],
        [undefined, 300],
        [990, 5000],
        [1000, undefined],
        [5, 5],
      ]
      for (const [start, end] of cases) {
        const got = await readAll(remote, 'r.bin', {
          ...(start === undefined ? {} : { start }),
          ...(end === undefined ? {} : { end }),
        })
        assert.ok(got.equals(data.subarray(start ?? 0, end)), `range ${start}-${end}`)
      }
      await rejectsWith(remote.read('r.bin', { start: 1001 }), 'INVALID_RANGE')
      await rejectsWith(remote.read('r.bin', { start: 10, end: 5 }), 'INVALID_RANGE')
      await rejectsWith(remote.read('r.bin', { start: -1 }), 'INVALID_RANGE')
    }))

  it('reports missing files as NOT_FOUND, deletes idempotently, and stat of a directory is NOT_FOUND', () =>
    withRemote(factory, async (remote) => {
      await rejectsWith(remote.read('nope.bin'), 'NOT_FOUND')
      await rejectsWith(remote.stat('nope.bin'), 'NOT_FOUND')
      await rejectsWith(remote.rename('nope.bin', 'x.bin'), 'NOT_FOUND')
      await remote.delete('nope.bin')
      await remote.write('d/x.bin', Buffer.from('x'))
      await rejectsWith(remote.stat('d'), 'NOT_FOUND')
      await remote.delete('d/x.bin')
      await rejectsWith(remote.stat('d/x.bin'), 'NOT_FOUND')
    }))
}

/** The rename, path-validation and info part of the conformance suite. */
export function conformancePathTests(factory: RemoteFactory): void {
  it('keeps names with spaces, unicode and URL-special characters intact', () =>
    withRemote(factory, async (remote) => {
      const names = [
        'dir with space/a b.txt',
        'ünï/cødé €.bin',
        'sym/a+b=c&d.txt',
        'sym/100%25 #1 ?x.json',
        "q/it's;(1)[2]{3}~!@$,.txt",
      ]
      for (const name of names) await remote.write(name, Buffer.from(name))
      for (const name of names) assert.equal((await readAll(remote, name)).toString(), name)
      const listed: string[] = []
      for await (const entry of remote.list('', { recursive: true })) listed.push(entry.path)
      assert.deepEqual(listed.sort(), [...names].sort())
      await remote.rename('sym/a+b=c&d.txt', 'sym/moved %2F+.txt')
      assert.equal((await readAll(remote, 'sym/moved %2F+.txt')).toString(), 'sym/a+b=c&d.txt')
      await remote.deleteMany(names)
      assert.deepEqual((await remote.stat('sym/moved %2F+.txt')).sizeBytes, 15)
    }))

  it('renames, replacing the target', () =>
    withRemote(factory, async (remote) => {
      await remote.write('from.bin', Buffer.from('new'))
      await remote.write('sub/to.bin', Buffer.from('old content'))
      await remote.rename('from.bin', 'sub/to.bin')
      assert.equal((await readAll(remote, 'sub/to.bin')).toString(), 'new')
      await rejectsWith(remote.stat('from.bin'), 'NOT_FOUND')
      await remote.rename('sub/to.bin', 'other/dir/moved.bin')
      assert.equal((await readAll(remote, 'other/dir/moved.bin')).toString(), 'new')
    }))

  it('rejects hostile paths with INVALID_PATH on every operation', () =>
    withRemote(factory, async (remote) => {
      await remote.write('fine.bin', Buffer.from('x'))
      const hostile = [
        '../x',
        'a/../../x',
        '/etc/passwd',
        'a//b',
        'a/./b',
        'a/',
        'nul\0byte',
        '..',
        'a\\..\\b',
        '',
      ]
      for (const path of hostile) {
        await rejectsWith(remote.read(path), 'INVALID_PATH')
        await rejectsWith(remote.write(path, Buffer.from('x')), 'INVALID_PATH')
        await rejectsWith(remote.stat(path), 'INVALID_PATH')
        await rejectsWith(remote.delete(path), 'INVALID_PATH')
        await rejectsWith(remote.rename('ok.bin', path), 'INVALID_PATH')
        await rejectsWith(remote.lock(path, { ttlMs: 1000 }), 'INVALID_PATH')
        await rejectsWith(remote.deleteMany(['fine.bin', path]), 'INVALID_PATH')
        assert.equal((await remote.stat('fine.bin')).sizeBytes, 1, 'a batch with a bad path deletes nothing')
        if (path !== '') await rejectsWith(remote.list(path)[Symbol.asyncIterator]().next(), 'INVALID_PATH')
      }
    }))

  it('reports info with non-negative numbers where known', () =>
    withRemote(factory, async (remote) => {
      const info = await remote.info()
      for (const value of [info.totalBytes, info.freeBytes, info.usedBytes]) {
        if (value !== undefined)
          assert.ok(Number.isFinite(value) && value >= 0, 'Number.isFinite(value) && value >= 0')
      }
    }))
}
