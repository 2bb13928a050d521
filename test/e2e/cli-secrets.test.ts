// A remote URL's secret never shows, whatever it holds: `#` and `?` unencoded used to cut the URL
// so that pieces of the secret became the host, the path or the region, printed in errors. Also:
// an S3 URL without credentials is shown plainly, and S3 commands print no AWS SDK warning.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { cli } from '../../src/cli/testing/run-cli.ts'
import { startS3rver } from '../../src/remotes/testing/s3rver.ts'
import { isOneErrorLine, runCliProcess } from './cli-support.ts'

const SECRET = 'Se#cR?eT/pw'
const FRAGMENTS = ['Se#cR', '#cR?', 'cR?eT', '?eT/', 'eT/pw', 'Se%23', '%3FeT']

function assertNoSecret(text: string, label: string): void {
  for (const fragment of FRAGMENTS) assert.ok(!text.includes(fragment), `${label}: "${fragment}" in ${text}`)
}

describe('secrets of remote URLs in CLI output', () => {
  it(
    'never shows any piece of a secret holding # or ?, in any command or error',
    { timeout: 120_000 },
    async () => {
      const server = await startS3rver('secret-bucket')
      try {
        const host = new URL(server.endpoint).host
        const urls = [
          `s3://KEY:${SECRET}@${host}/secret-bucket`,
          `s3+http://KEY:${SECRET}@${host}/secret-bucket/dir`,
          `s3+http://KEY:${SECRET}@${host}`,
          `s3+http://KEY:${SECRET}@bad host/b`,
          `smb://user:${SECRET}@nodomain`,
        ]
        for (const url of urls) {
          for (const args of [
            ['remote', 'test', '--size-mib', '0.1', url],
            ['remote', 'test', '--json', '--size-mib', '0.1', url],
            ['backups', 'list', url],
            ['backups', 'check', '--json', url],
            [url],
          ]) {
            const run = await cli(...args)
            const label = `${args.join(' ')} → ${run.code}`
            assert.notEqual(run.code, 0, label)
            assertNoSecret(run.out + run.err, label)
          }
        }
        const plain = await cli(
          'remote',
          'test',
          '--size-mib',
          '0.1',
          `s3+http://KEY:${SECRET}@${host}/secret-bucket`,
        )
        assert.match(plain.out, new RegExp(`^remote: s3\\+http://KEY:\\*\\*\\*@${host}/secret-bucket$`, 'm'))
      } finally {
        await server.stop()
      }
    },
  )

  it('refuses an S3 URL without credentials, showing it without :***@', { timeout: 60_000 }, async () => {
    const run = await cli('remote', 'test', '--size-mib', '0.1', 's3+http://127.0.0.1:9/bucket/dir')
    assert.equal(run.code, 2)
    assert.match(run.err, /^error: s3\+http:\/\/127\.0\.0\.1:9\/bucket\/dir: no access key id: expected s3:/)
    assert.doesNotMatch(run.out + run.err, /\*\*\*/)
  })

  it(
    'an S3 command prints no AWS SDK Node-version warning, and other warnings still show',
    { timeout: 120_000 },
    async () => {
      const server = await startS3rver('quiet-bucket')
      try {
        const url = `s3+http://${server.accessKeyId}:${server.secretAccessKey}@${new URL(server.endpoint).host}/quiet-bucket`
        const run = await runCliProcess(['remote', 'test', '--size-mib', '0.1', url])
        assert.equal(run.status, 0, run.stderr)
        assert.equal(run.stderr, '')
        assert.match(run.stdout, /^result: success$/m)
        // The SDK's variable is set only when absent: a user who asks for the warning gets it.
        const asked = await runCliProcess(['remote', 'test', '--size-mib', '0.1', url], {
          env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'false' },
        })
        assert.equal(asked.status, 0, asked.stderr)
        if (Number(process.versions.node.split('.')[0]) < 22)
          assert.match(asked.stderr, /NodeVersionSupportWarning/)
      } finally {
        await server.stop()
      }
    },
  )

  it('a failed S3 command in a real process: one error line, no secret', { timeout: 60_000 }, async () => {
    const run = await runCliProcess(['backups', 'list', `s3+http://KEY:${SECRET}@127.0.0.1:9`])
    assert.equal(run.status, 2, run.stderr)
    assert.ok(isOneErrorLine(run.stderr), run.stderr)
    assertNoSecret(run.stdout + run.stderr, 'process')
  })
})
