// `xapi-backup serve` and `xapi-backup token` as a user runs them (issue 12): `token create`
// prints the token alone on its last line, `list` never shows it, `serve --port 0` prints its
// `url:` line and answers, SIGTERM stops it with status 0 without logging the token, and a
// database from a newer version is refused with one error line and left as it was.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import { isOneErrorLine, runCliProcess } from './cli-support.ts'
import { openDatabase, runPragma } from '../../src/daemon/store/native-handles.ts'

const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))

describe('serve and token commands', { timeout: 180_000 }, () => {
  let dir = ''
  let data = ''
  let token = ''
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cli-serve-'))
    data = join(dir, 'data')
  })
  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('token create prints the token alone on its last line; list never shows it', async () => {
    const created = await runCliProcess(['token', 'create', '--data-dir', data, '--name', 'ci'])
    assert.equal(created.status, 0, created.stderr)
    const lines = created.stdout.trimEnd().split('\n')
    token = lines.at(-1) ?? ''
    assert.match(token, /^xb_[A-Za-z0-9_-]{43}$/)
    const listed = await runCliProcess(['token', 'list', '--data-dir', data])
    assert.equal(listed.status, 0, listed.stderr)
    assert.match(listed.stdout, /\bci\b/)
    assert.ok(!listed.stdout.includes(token), 'list does not show the token')
  })

  it('serve answers on its url line and stops cleanly on SIGTERM without logging the token', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', main, 'serve', '--data-dir', data, '--port', '0'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, NO_COLOR: '1' },
      },
    )
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (t: string) => (stdout += t))
    child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t))
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve))
    const killer = setTimeout(() => child.kill('SIGKILL'), 120_000)
    try {
      let url: string | undefined
      for (let i = 0; i < 1200 && url === undefined; i++) {
        url = /^url: (http:\/\/127\.0\.0\.1:\d+)$/m.exec(stdout)?.[1]
        if (url === undefined) await new Promise((resolve) => setTimeout(resolve, 50))
      }
      assert.ok(url !== undefined, `serve printed its url line (${stdout}${stderr})`)
      assert.equal((await fetch(`${url}/api/health`)).status, 200)
      assert.equal((await fetch(`${url}/api/jobs`)).status, 401)
      const jobs = await fetch(`${url}/api/jobs`, { headers: { authorization: `Bearer ${token}` } })
      assert.equal(jobs.status, 200)
      assert.deepEqual(await jobs.json(), { items: [] })
      // The console (built into dist/web by npm install's prepare) is served at / and for its routes.
      for (const path of ['/', '/jobs/new']) {
        const page = await fetch(`${url}${path}`)
        assert.equal(page.status, 200)
        assert.match(
          await page.text(),
          /<script type="module"[^>]* src="\/assets\//,
          `${path} serves the built console`,
        )
      }
      child.kill('SIGTERM')
      assert.equal(await exited, 0, stderr)
      assert.match(stdout, /job server stopped/)
      assert.ok(!stdout.includes(token) && !stderr.includes(token), 'the token is not logged')
    } finally {
      clearTimeout(killer)
      child.kill('SIGKILL')
    }
  })

  it('refuses a database of a newer version with one error line and leaves it untouched', async () => {
    const file = join(data, 'xapi-backup.sqlite')
    const db = openDatabase(file)
    runPragma(db, 'user_version = 4242')
    runPragma(db, 'wal_checkpoint(TRUNCATE)')
    db.close()
    const before = await readFile(file)
    const run = await runCliProcess(['serve', '--data-dir', data, '--port', '0'])
    assert.equal(run.status, 1, run.stdout)
    assert.ok(isOneErrorLine(run.stderr), run.stderr)
    assert.match(run.stderr, /4242/)
    assert.deepEqual(await readFile(file), before)
  })
})
