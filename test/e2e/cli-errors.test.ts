// The error contract of the CLI as a new user meets it: every error is one line
// `error: <what> (<path or field>) [CODE]; hint: …`, never a stack, never Node's message twice, and
// the exit code follows the table (0 success, 1 failure or findings, 2 usage).
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { cli } from '../../src/cli/testing/run-cli.ts'
import { isOneErrorLine, runCliProcess } from './cli-support.ts'

let dir = ''
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cli-errors-'))
})
after(async () => {
  await rm(dir, { recursive: true, force: true })
})

function assertOneLine(err: string, what: RegExp, label: string): void {
  assert.ok(isOneErrorLine(err), `${label}: ${JSON.stringify(err)}`)
  assert.match(err, what, label)
  assert.doesNotMatch(err, /\n\s+at /, `${label}: a stack`)
  for (const said of ['ENOENT', 'no such file or directory'])
    assert.ok(err.split(said).length <= 2, `${label}: ${said} twice in ${err}`)
}

describe('CLI errors: one line, the path or field, the exit-code table', () => {
  it('usage errors exit 2 with one line naming the command and where to look', async () => {
    const cases: [string[], RegExp][] = [
      [['bogus'], /^error: unknown command 'bogus' \(xapi-backup\) .*hint: see 'xapi-backup --help'/],
      [['backups', 'lst'], /^error: unknown command 'lst' .*did you mean list\?/],
      [['backups', 'list'], /^error: missing required argument 'url' \(xapi-backup backups list\)/],
      [['backups', 'list', '--nope', dir], /^error: unknown option '--nope' \(xapi-backup backups list\)/],
      [['backups', 'list', '--vm', 'x', dir], /^error: .*'--vm <uuid>'.*expected a VM UUID, got "x"/],
      [['remote', 'test', '--size-mib', 'lots', dir], /^error: --size-mib: expected a number/],
      [['backups', 'delete', dir, '../../etc/passwd'], /^error: invalid backup id/],
      [
        ['backups', 'list', 'file://srv/x'],
        /^error: .*not an absolute path.*hint: write file:\/\/\/absolute\/path/,
      ],
      [
        ['backups', 'list', 'srv/x'],
        /^error: .*needs an absolute path.*hint: write file:\/\/\/.*\/srv\/x\n$/,
      ],
      [
        ['remote', 'test', 'ftp://host/x'],
        /^error: .*expected file:\/\/\/absolute\/path, nfs:\/\/.*\[INVALID_URL\]/,
      ],
    ]
    for (const [args, what] of cases) {
      const run = await cli(...args)
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.err}`)
      assert.equal(run.out, '', args.join(' '))
      assertOneLine(run.err, what, args.join(' '))
    }
  })

  it('failures exit 1 with what, where, the code and what to do', async () => {
    const missing = join(dir, 'no such folder')
    const cases: [string[], RegExp][] = [
      [
        ['backups', 'list', missing],
        /^error: the remote folder does not exist \(.*no such folder\) \[NOT_FOUND\]; hint: create it first \(mkdir -p '.*no such folder'\)/,
      ],
      [['backups', 'check', `file://${missing}`], /^error: the remote folder does not exist \(/],
      [['remote', 'test', missing], /^error: the remote folder does not exist .*hint: create it first/],
      [['remote', 'test', '/etc/hostname'], /^error: the remote path is not a folder \(\/etc\/hostname\)/],
      [
        ['vhd', 'info', join(missing, 'disk.vhd')],
        /^error: no such file or directory \(.*disk\.vhd\) \[ENOENT\]$/m,
      ],
      [['log', 'show', join(missing, 'run.jsonl')], /^error: .*run\.jsonl.*no such file or directory/],
    ]
    for (const [args, what] of cases) {
      const run = await cli(...args)
      assert.equal(run.code, 1, `${args.join(' ')}: ${run.err}`)
      assertOneLine(run.err, what, args.join(' '))
    }
  })

  it(
    'a real process: exit status, one stderr line, no stack (usage 2, failure 1, help and version 0)',
    { timeout: 180_000 },
    async () => {
      const usage = await runCliProcess(['backups', 'list'])
      assert.equal(usage.status, 2, usage.stderr)
      assertOneLine(usage.stderr, /^error: missing required argument 'url'/, 'usage')
      const failure = await runCliProcess(['vhd', 'info', join(dir, 'missing.vhd')])
      assert.equal(failure.status, 1, failure.stderr)
      assertOneLine(failure.stderr, /missing\.vhd/, 'failure')
      const help = await runCliProcess(['--help'])
      assert.equal(help.status, 0, help.stderr)
      assert.match(
        help.stdout,
        /^Exit codes:\n {2}0 {2}success\n {2}1 {2}failure, or findings.*\n {2}2 {2}usage error/m,
      )
    },
  )
})
