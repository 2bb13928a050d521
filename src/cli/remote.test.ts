import assert from 'node:assert/strict'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { startS3rver } from '../remotes/testing/s3rver.ts'
import { cli } from './testing/run-cli.ts'

describe('xapi-backup remote test', () => {
  it('writes, reads back, verifies and deletes a test file on a file:// remote', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cli-remote-'))
    try {
      const { code, out, err } = await cli('remote', 'test', '--size-mib', '1.5', `file://${dir}`)
      assert.equal(err, '')
      assert.equal(code, 0)
      const lines = out.trimEnd().split('\n')
      assert.equal(lines[0], `remote: file://${dir}`)
      assert.match(lines[1] ?? '', /^write: {2}1\.50 MiB in \d+\.\d\d s \(.+\/s\)$/)
      assert.match(lines[2] ?? '', /^read: {3}1\.50 MiB in /)
      assert.match(out, /^space: .+ free of .+$/m)
      assert.equal(lines.at(-1), 'result: success')
      assert.deepEqual(await readdir(dir), [], 'the test file was deleted')

      const json = await cli('remote', 'test', '--json', '--size-mib', '0.25', `file://${dir}`)
      const parsed = JSON.parse(json.out) as {
        success: boolean
        sizeBytes: number
        sha256: string
        remote: string
      }
      assert.equal(json.code, 0)
      assert.deepEqual([parsed.success, parsed.sizeBytes, parsed.remote], [true, 256 << 10, `file://${dir}`])
      assert.match(parsed.sha256, /^[0-9a-f]{64}$/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('tests an s3+http:// remote (s3rver) with a multipart upload and shows the URL without its secret', async () => {
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
    const server = await startS3rver('cli-bucket')
    try {
      const host = new URL(server.endpoint).host
      const url = `s3+http://${server.accessKeyId}:${server.secretAccessKey}@${host}/cli-bucket/some/dir`
      const { code, out } = await cli('remote', 'test', '--size-mib', '6', url)
      assert.equal(code, 0, out)
      // s3rver's secret is its key id: showing the key would show the secret, so both are hidden.
      assert.equal(out.split('\n')[0], `remote: s3+http://***:***@${host}/cli-bucket/some/dir`)
      assert.match(out, /^space: unknown/m)
      assert.equal(out.trimEnd().split('\n').at(-1), 'result: success')
    } finally {
      await server.stop()
    }
  })

  it('fails with a clear message and the exit code of the table, never echoing credentials', async () => {
    const missing = await cli('remote', 'test', 'file:///nonexistent/xapi-backup-remote')
    assert.equal(missing.code, 1)
    assert.match(missing.err, /nonexistent.*\[NOT_FOUND\]/)
    const bad = await cli('remote', 'test', 'smb://user:hunter2@nodomain')
    assert.equal(bad.code, 2, 'a malformed remote URL is a usage error')
    assert.match(bad.err, /invalid smb remote URL.*\[INVALID_URL\]/)
    assert.doesNotMatch(bad.err + bad.out, /hunter2/)
    const size = await cli('remote', 'test', '--size-mib', 'lots', 'file:///tmp')
    assert.equal(size.code, 2)
    assert.match(size.err, /--size-mib: expected a number/)
  })
})
