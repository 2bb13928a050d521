import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

const main = fileURLToPath(new URL('./main.ts', import.meta.url))
const fixture = fileURLToPath(new URL('../../test/fixtures/simulator/pool.yaml', import.meta.url))

async function runUntilReady(args: readonly string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', main, 'simulator', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: string[] = []
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const reader = createInterface({ input: child.stdout })
  const exited = once(child, 'exit')
  for await (const line of reader) {
    lines.push(line)
    if (line.startsWith('pool: ')) break
  }
  return { child, lines, exited, stderr: () => stderr, rest: reader }
}

describe('xapi-backup simulator', () => {
  it('prints url, user and password lines, serves logins, and stops on SIGTERM', async () => {
    const { child, lines, exited, stderr } = await runUntilReady([
      '--port',
      '0',
      '--config',
      fixture,
      '--password',
      'pw',
    ])
    const url = lines.find((l) => l.startsWith('url: '))?.slice(5) ?? ''
    assert.match(url, /^http:\/\/127\.0\.0\.1:[1-9]\d*$/, stderr())
    assert.ok(lines.includes('user: root'), "lines.includes('user: root')")
    assert.ok(lines.includes('password: pw'), "lines.includes('password: pw')")
    const login = await fetch(`${url}/jsonrpc`, {
      method: 'POST',
      body: JSON.stringify({
        jsonrpc: '2.0',
        method: 'session.login_with_password',
        params: ['root', 'pw'],
        id: 1,
      }),
    })
    assert.match(((await login.json()) as { result: string }).result, /^OpaqueRef:/)
    child.kill('SIGTERM')
    const [code] = (await exited) as [number | null]
    assert.equal(code, 0)
  })

  it('prints a random password by default and refuses a bad port', async () => {
    const { child, lines, exited } = await runUntilReady([])
    assert.match(lines.find((l) => l.startsWith('password: ')) ?? '', /^password: \S{8,}$/)
    child.kill('SIGINT')
    assert.equal((await exited)[0], 0)
    const bad = spawn(process.execPath, ['--import', 'tsx', main, 'simulator', '--port', 'x'], {
      stdio: 'pipe',
    })
    let err = ''
    bad.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()))
    const [code] = (await once(bad, 'exit')) as [number | null]
    assert.equal(code, 2)
    assert.match(err, /--port: expected an integer 0\.\.65535, got "x"/)
  })

  it('with --tls writes the self-signed certificate into --data-dir and prints its path', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'sim-cli-'))
    try {
      const { child, lines, exited, stderr } = await runUntilReady(['--tls', '--data-dir', dir])
      if (lines.length === 0 && stderr().includes('SIMULATOR_TLS_UNAVAILABLE') && process.env.CI !== 'true') {
        t.skip('openssl is not installed')
        return
      }
      assert.match(lines.find((l) => l.startsWith('url: ')) ?? '', /^url: https:\/\/127\.0\.0\.1:\d+$/)
      const caLine = lines.find((l) => l.startsWith('ca-cert: ')) ?? ''
      assert.equal(caLine, `ca-cert: ${join(dir, 'simulator-ca.pem')}`)
      assert.match(await readFile(join(dir, 'simulator-ca.pem'), 'utf8'), /^-----BEGIN CERTIFICATE-----/)
      child.kill('SIGTERM')
      assert.equal(((await exited) as [number | null])[0], 0)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it(
    'creates a missing --data-dir (and its parents) and keeps its data there',
    { timeout: 60_000 },
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'sim-cli-'))
      try {
        const dataDir = join(dir, 'not', 'yet')
        const { child, lines, exited, stderr } = await runUntilReady(['--data-dir', dataDir])
        assert.match(lines.find((l) => l.startsWith('url: ')) ?? '', /^url: http:\/\//, stderr())
        assert.ok((await stat(dataDir)).isDirectory(), '(await stat(dataDir)).isDirectory()')
        assert.ok((await readdir(dataDir)).length > 0, 'the simulator keeps its blocks there')
        child.kill('SIGTERM')
        assert.equal(((await exited) as [number | null])[0], 0)
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    },
  )
})
