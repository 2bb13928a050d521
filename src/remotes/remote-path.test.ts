import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isRemoteError, isRetryableRemoteError, toRemoteError } from './remote-error.ts'
import { checkRemotePath, joinRemotePath, remoteBasename, remoteDirname } from './remote-path.ts'

describe('checkRemotePath', () => {
  it('accepts relative slash-separated names, the root only when asked', () => {
    for (const ok of ['a', 'a/b.c', 'xo-vm-backups/uuid/20260101T000000Z.json', '.hidden', 'a/..b', '...']) {
      assert.equal(checkRemotePath(ok), ok)
    }
    assert.equal(checkRemotePath('', true), '')
  })

  it('rejects every escaping or ambiguous form with INVALID_PATH naming the reason', () => {
    const cases: [string, RegExp][] = [
      ['', /empty/],
      ['..', /segment/],
      ['a/../b', /segment/],
      ['./a', /segment/],
      ['/abs', /absolute/],
      ['a//b', /empty segment/],
      ['a/', /empty segment/],
      ['a\0b', /NUL/],
      ['a\\b', /backslash/],
      ['x'.repeat(1025), /1024/],
    ]
    for (const [path, reason] of cases) {
      assert.throws(
        () => checkRemotePath(path),
        (e: unknown) => isRemoteError(e, 'INVALID_PATH') && reason.test(e.message),
        JSON.stringify(path),
      )
    }
  })

  it('joins and splits paths', () => {
    assert.equal(joinRemotePath('', 'a', '', 'b'), 'a/b')
    assert.deepEqual([remoteDirname('a/b/c'), remoteBasename('a/b/c')], ['a/b', 'c'])
    assert.deepEqual([remoteDirname('c'), remoteBasename('c')], ['', 'c'])
  })
})

describe('toRemoteError', () => {
  it('maps errno codes to stable codes; only UNAVAILABLE is retryable', () => {
    const errno = (code: string) => Object.assign(new Error(code), { code })
    const table: [string, string, boolean][] = [
      ['ENOENT', 'NOT_FOUND', false],
      ['EEXIST', 'ALREADY_EXISTS', false],
      ['EACCES', 'ACCESS_DENIED', false],
      ['EROFS', 'READ_ONLY', false],
      ['ENOSPC', 'NO_SPACE', false],
      ['ESTALE', 'UNAVAILABLE', true],
      ['ECONNRESET', 'UNAVAILABLE', true],
      ['EIO', 'IO_ERROR', false],
      ['EWHATEVER', 'IO_ERROR', false],
    ]
    for (const [code, expected, retryable] of table) {
      const mapped = toRemoteError(errno(code), 'read', 'a/b')
      assert.ok(isRemoteError(mapped, expected as never), code)
      assert.equal(isRetryableRemoteError(mapped), retryable, code)
      assert.match(mapped.message, /^read "a\/b": /)
    }
    const abort = Object.assign(new Error('stop'), { name: 'AbortError' })
    assert.equal(toRemoteError(abort, 'read', 'x'), abort)
  })
})
