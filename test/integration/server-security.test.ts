// The job server's refusals (issue 12 "Bad input" and security acceptance): every route of the
// OpenAPI document but health refuses a request without a token, with a wrong one and with a
// revoked one; tokens never reach the log; secrets never come back in an answer nor land in the
// database; bodies over 1 MiB get 413, non-JSON 415, unknown ids 404, bad input 400 naming the
// field; a newer-versioned or corrupt database is refused at start and left untouched.
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { get as httpsGet } from 'node:https'
import { after, before, describe, it } from 'node:test'
import type { RunningServer } from '../../src/api/start-server.ts'
import { startServer } from '../../src/api/start-server.ts'
import { requireTool } from '../../src/shared/testing/oracles.ts'
import { generateSelfSignedCertificate } from '../../src/simulator/tls.ts'
import { openDatabase, runPragma } from '../../src/daemon/store/native-handles.ts'

const POOL_PASSWORD = 'pool-pw-Zq8r1'
const S3_SECRET = 'S3SECRETkeyValue9'
const SMTP_PASSWORD = 'smtp-pw-Kx2'

describe('job server security and bad input', { timeout: 120_000 }, () => {
  let dir: string
  let server: RunningServer
  let token: string
  const logs: string[] = []

  const call = async (
    method: string,
    path: string,
    options: { token?: string; body?: string; type?: string } = {},
  ) => {
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
        ...(options.body === undefined ? {} : { 'content-type': options.type ?? 'application/json' }),
      },
      ...(options.body === undefined ? {} : { body: options.body }),
    })
    return { status: response.status, text: await response.text() }
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'xapi-backup-security-'))
    server = await startServer({
      dataDir: join(dir, 'data'),
      log: (m) => logs.push(m),
      operations: {
        testPool: () => Promise.resolve({ ok: false, error: 'not reachable in this test' }),
        listRemoteBackups: () => Promise.resolve([]),
      },
    })
    token = server.store.createToken('t').token
  })

  after(async () => {
    await server.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('refuses every route but health without a valid token', async () => {
    const doc = JSON.parse((await call('GET', '/api/openapi.json', { token })).text) as {
      paths: Record<string, Record<string, unknown>>
    }
    const revoked = server.store.createToken('old')
    server.store.revokeToken(revoked.record.id)
    const routes = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((m) => [m.toUpperCase(), path] as const),
    )
    assert.ok(routes.length >= 30, `the document lists the routes (${routes.length})`)
    const uuid = '3f0e7d1a-2b4c-4d5e-8f60-718293a4b5c6'
    for (const [method, path] of routes) {
      const concrete = path.replace(/\{[^}]+\}/g, uuid)
      const body = method === 'GET' || method === 'DELETE' ? {} : { body: '{}' }
      for (const bad of [undefined, 'xb_' + 'A'.repeat(43), revoked.token, `${token}x`]) {
        const { status } = await call(method, concrete, {
          ...body,
          ...(bad === undefined ? {} : { token: bad }),
        })
        const expected = path === '/api/health' ? 200 : 401
        assert.equal(
          status,
          expected,
          `${method} ${path} with ${bad === undefined ? 'no token' : 'a bad token'}`,
        )
      }
    }
    assert.equal((await call('GET', '/metrics')).status, 401, '/metrics needs a token too')
    assert.equal((await call('GET', '/metrics', { token })).status, 200, 'and answers with one')
  })

  it('never answers or stores a secret, never logs a token', async () => {
    const pool = await call('POST', '/api/pools', {
      token,
      body: JSON.stringify({
        name: 'p',
        url: 'https://pool.invalid',
        username: 'root',
        password: POOL_PASSWORD,
      }),
    })
    assert.equal(pool.status, 201, pool.text)
    const remote = await call('POST', '/api/remotes', {
      token,
      body: JSON.stringify({ name: 's3', url: `s3+http://AKIDEXAMPLE:${S3_SECRET}@127.0.0.1:9/bucket/dir` }),
    })
    assert.equal(remote.status, 201, remote.text)
    assert.match(remote.text, /AKIDEXAMPLE:\*+@/)
    const settings = await call('PUT', '/api/notifications', {
      token,
      body: JSON.stringify({
        webhooks: [],
        smtp: { host: 'smtp.invalid', port: 587, security: 'starttls', from: 'b@x.org', username: 'u' },
        smtpPassword: SMTP_PASSWORD,
      }),
    })
    assert.equal(settings.status, 200, settings.text)
    const answers = [pool.text, remote.text, settings.text]
    for (const path of [
      '/api/pools',
      '/api/remotes',
      '/api/notifications',
      '/api/openapi.json',
      '/api/dashboard',
      '/metrics',
    ])
      answers.push((await call('GET', path, { token })).text)
    const tested = await call('POST', `/api/pools/${(JSON.parse(pool.text) as { id: string }).id}/test`, {
      token,
    })
    answers.push(tested.text)
    for (const secret of [POOL_PASSWORD, S3_SECRET, SMTP_PASSWORD])
      for (const text of answers)
        assert.ok(!text.includes(secret), `no answer contains a secret (${text.slice(0, 80)})`)
    const dataDir = join(dir, 'data')
    for (const file of await readdir(dataDir)) {
      if (file === 'secrets.json') continue
      const bytes = await readFile(join(dataDir, file))
      for (const secret of [POOL_PASSWORD, S3_SECRET, SMTP_PASSWORD, token])
        assert.ok(!bytes.includes(secret), `${file} holds no secret and no token`)
    }
    assert.ok(!logs.join('\n').includes(token), 'the server log has no token')
  })

  it('serves an OpenAPI document that an independent validator accepts', async () => {
    const document: unknown = JSON.parse((await call('GET', '/api/openapi.json', { token })).text)
    const { Validator } = await import('@seriousme/openapi-schema-validator')
    const validator = new Validator()
    const result = await validator.validate(document as Parameters<typeof validator.validate>[0])
    assert.deepEqual(result, { valid: true }, JSON.stringify(result).slice(0, 2000))
    assert.equal((document as { openapi: string }).openapi, '3.1.0')
  })

  it('answers bad input with the right status and a field path', async () => {
    const big = JSON.stringify({ name: 'x'.repeat(1024 * 1024 + 10) })
    assert.equal((await call('POST', '/api/jobs', { token, body: big })).status, 413)
    assert.equal(
      (await call('POST', '/api/jobs', { token, body: 'name=x', type: 'application/x-www-form-urlencoded' }))
        .status,
      415,
    )
    const broken = await call('POST', '/api/jobs', { token, body: '{"name": ' })
    assert.equal(broken.status, 400)
    const unknownField = await call('POST', '/api/pools', {
      token,
      body: JSON.stringify({ name: 'p', url: 'https://x', username: 'u', password: 'p', colour: 'red' }),
    })
    assert.equal(unknownField.status, 400)
    assert.deepEqual((JSON.parse(unknownField.text) as { error: { path: string } }).error.path, 'colour')
    const badUrl = await call('POST', '/api/remotes', {
      token,
      body: JSON.stringify({ name: 'r', url: 'ftp://x/y' }),
    })
    assert.equal(badUrl.status, 400)
    assert.equal((JSON.parse(badUrl.text) as { error: { path: string } }).error.path, 'url')
    for (const path of [
      '/api/jobs/3f0e7d1a-2b4c-4d5e-8f60-718293a4b5c6',
      '/api/runs/not-a-uuid',
      '/api/pools/..%2F..%2Fetc',
      '/api/nothing-here',
    ])
      assert.equal((await call('GET', path, { token })).status, 404, path)
    const job = await call('POST', '/api/jobs', {
      token,
      body: JSON.stringify({ name: 'j', mode: 'sometimes' }),
    })
    assert.equal(job.status, 400)
    assert.equal((JSON.parse(job.text) as { error: { path: string } }).error.path, 'job.mode')
  })

  it('refuses a newer-versioned or corrupt database at start and leaves it untouched', async () => {
    const newer = join(dir, 'newer')
    const first = await startServer({ dataDir: newer, log: () => undefined })
    await first.close()
    const db = openDatabase(join(newer, 'xapi-backup.sqlite'))
    runPragma(db, 'user_version = 999')
    db.close()
    const before = await readFile(join(newer, 'xapi-backup.sqlite'))
    await assert.rejects(startServer({ dataDir: newer, log: () => undefined }), /999/)
    assert.deepEqual(
      await readFile(join(newer, 'xapi-backup.sqlite')),
      before,
      'the newer database is unchanged',
    )

    const corrupt = join(dir, 'corrupt')
    const second = await startServer({ dataDir: corrupt, log: () => undefined })
    await second.close()
    const file = join(corrupt, 'xapi-backup.sqlite')
    await writeFile(file, Buffer.concat([Buffer.from('SQLite format 3\0'), Buffer.alloc(4000, 0x5a)]))
    const garbage = await readFile(file)
    await assert.rejects(
      startServer({ dataDir: corrupt, log: () => undefined }),
      /STORE_CORRUPT|corrupt|not a database/i,
    )
    assert.deepEqual(await readFile(file), garbage, 'the corrupt database is unchanged')
  })

  it('serves HTTPS with a given certificate (verified by a client that trusts it only)', async (t) => {
    if (
      !requireTool(t, { name: 'openssl', probe: ['openssl', 'version'], install: 'apt-get install openssl' })
    )
      return
    const { certPem, keyPem } = await generateSelfSignedCertificate('127.0.0.1')
    await writeFile(join(dir, 'cert.pem'), certPem)
    await writeFile(join(dir, 'key.pem'), keyPem, { mode: 0o600 })
    const tls = await startServer({
      dataDir: join(dir, 'tls-data'),
      tls: { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') },
      log: () => undefined,
    })
    try {
      assert.match(tls.url, /^https:\/\/127\.0\.0\.1:\d+$/)
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const request = httpsGet(`${tls.url}/api/health`, { ca: certPem }, (response) => {
          let body = ''
          response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk))
          response.on('end', () => {
            resolve({ status: response.statusCode ?? 0, body })
          })
        })
        request.on('error', reject)
      })
      assert.equal(answer.status, 200)
      assert.match(answer.body, /"status":"ok"/)
      // A client that does not trust the certificate is refused by TLS, not answered.
      await assert.rejects(fetch(`${tls.url}/api/health`), 'an untrusted certificate fails the handshake')
    } finally {
      await tls.close()
    }
  })

  it('serves only regular files inside the console folder, index.html otherwise', async () => {
    const web = join(dir, 'web')
    await mkdir(join(web, 'assets'), { recursive: true })
    await writeFile(join(web, 'index.html'), '<!doctype html><title>console</title>')
    await writeFile(join(web, 'assets', 'app.js'), 'export {}')
    await writeFile(join(dir, 'canary.txt'), 'CANARY-outside-the-console')
    await symlink(join(dir, 'canary.txt'), join(web, 'assets', 'link.js'))
    const site = await startServer({ dataDir: join(dir, 'web-data'), webRoot: web, log: () => undefined })
    try {
      const get = async (path: string) => {
        const response = await fetch(`${site.url}${path}`)
        return {
          status: response.status,
          type: response.headers.get('content-type') ?? '',
          text: await response.text(),
        }
      }
      const asset = await get('/assets/app.js')
      assert.equal(asset.text, 'export {}')
      assert.match(asset.type, /javascript/)
      for (const path of [
        '/..%2f..%2fcanary.txt',
        '/%2e%2e/%2e%2e/canary.txt',
        '/assets/link.js',
        '/assets/..%2f..%2f..%2fcanary.txt',
        '/%00',
        '/jobs/new',
      ]) {
        const answer = await get(path)
        assert.ok(!answer.text.includes('CANARY'), `${path} does not leave the console folder`)
        assert.match(answer.text, /<title>console<\/title>/, `${path} answers index.html`)
      }
    } finally {
      await site.close()
    }
  })
})
