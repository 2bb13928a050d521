import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { describe, it } from 'node:test'
import { RemoteError, toRemoteError } from '../remotes/remote-error.ts'
import { BackupError } from '../shared/errors.ts'
import { formatCliError } from './error-line.ts'
import { CliExit } from './io.ts'
import { commandLineSecrets, scrubbingIo } from './scrub-secrets.ts'

const ONE_LINE = /^error: [^\n]+$/

async function enoent(path: string): Promise<Error> {
  return readFile(path).then(
    () => assert.fail(`${path} exists`),
    (error: unknown) => error as Error,
  )
}

describe('formatCliError: one line per error', () => {
  it('says a Node errno error once, in words, with its path and code', async () => {
    const raw = await enoent('/nonexistent/disk.vhd')
    assert.deepEqual(formatCliError(raw), {
      line: 'error: no such file or directory (/nonexistent/disk.vhd) [ENOENT]',
      exitCode: 1,
    })
    // toRemoteError quotes Node's message, which quotes the path: before, the line said it twice.
    const wrapped = toRemoteError(raw, 'open', '/nonexistent/disk.vhd')
    const { line } = formatCliError(wrapped)
    assert.match(line, ONE_LINE)
    assert.equal(line.split('no such file or directory').length, 2, line)
    assert.equal(line.split("'/nonexistent/disk.vhd'").length, 1, line)
    assert.match(line, /\/nonexistent\/disk\.vhd.*\[NOT_FOUND\]$/)
    // Wrapped without quoting it: the errno is added once.
    const unreadable = new BackupError('TASK_LOG_UNREADABLE', 'cannot read /nonexistent/disk.vhd', {
      cause: raw,
    })
    assert.equal(
      formatCliError(unreadable).line,
      'error: cannot read /nonexistent/disk.vhd: ENOENT: no such file or directory [TASK_LOG_UNREADABLE]',
    )
  })

  it('adds the path, file and field from details when the message lacks them, and the hint', () => {
    const error = new BackupError('META_INVALID', 'expected a number', {
      details: { path: 'xo-vm-backups/a/b.json', field: 'size', hint: 'run backups check --repair' },
    })
    assert.deepEqual(formatCliError(error), {
      line: 'error: expected a number (xo-vm-backups/a/b.json, size) [META_INVALID]; hint: run backups check --repair',
      exitCode: 1,
    })
    const named = new BackupError('X', '/a/disk.vhd@512 footer.checksum: expected 1, got 2', {
      details: { file: '/a/disk.vhd', field: 'footer.checksum' },
    })
    assert.equal(formatCliError(named).line, `error: ${named.message} [X]`)
  })

  it('keeps hostile text on one line without control characters; never a stack', () => {
    const error = new BackupError('BAD', 'line one\nline two\u001b[31m red', { details: { path: 'a\nb' } })
    const { line } = formatCliError(error)
    assert.match(line, ONE_LINE)
    assert.equal(line, 'error: line one line two\\x1b[31m red (a b) [BAD]')
    const plain = formatCliError(new Error('boom'))
    assert.equal(plain.line, 'error: boom')
    assert.doesNotMatch(plain.line, /\bat /)
    assert.equal(formatCliError('a string').line, 'error: a string')
  })

  it('applies the exit-code table: CliExit its own, malformed URL 2, anything else 1', () => {
    assert.deepEqual(formatCliError(new CliExit(2, '--port: expected an integer')), {
      line: 'error: --port: expected an integer',
      exitCode: 2,
    })
    assert.deepEqual(formatCliError(new CliExit(1)), { line: '', exitCode: 1 })
    assert.equal(formatCliError(new CliExit(1, 'error: said once')).line, 'error: said once')
    assert.equal(formatCliError(new RemoteError('INVALID_URL', 'invalid s3 remote URL: no host')).exitCode, 2)
    assert.equal(formatCliError(new RemoteError('NOT_FOUND', 'gone')).exitCode, 1)
  })
})

describe('command-line secrets', () => {
  it('finds the password of URL arguments, its encoded forms and pieces, and hides them in output', () => {
    const secrets = commandLineSecrets(['remote', 'test', 's3://KEY:s3cr#t?p4ss/w0rd@host/b', '--json'])
    let out = ''
    const io = scrubbingIo({ out: (t) => (out += t), err: (t) => (out += t) }, secrets)
    io.out('whole s3cr#t?p4ss/w0rd, encoded s3cr%23t%3Fp4ss%2Fw0rd, piece t?p4ss and w0rd; KEY stays\n')
    assert.equal(out, 'whole ***, encoded ***, piece t?*** and ***; KEY stays\n')
    assert.deepEqual(commandLineSecrets(['file:///srv/b', 's3://host/b', 'backups']), [])
  })
})
