import assert from 'node:assert/strict'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { RunningSimulator } from './index.ts'
import { startSimulator } from './index.ts'
import { postRaw, xmlCall } from './testing/raw-rpc.ts'

// Wire shapes of xapi.md §1.1–1.5, compared on raw bodies.
describe('simulator wire protocol', () => {
  let sim: RunningSimulator
  let session: string
  const REF = /^OpaqueRef:[0-9a-f-]{36}$/

  before(async () => {
    sim = await startSimulator({ password: 'secret' })
    const raw = await postRaw(sim, '/', xmlCall('session.login_with_password', 'root', 'secret'))
    session = /<name>Value<\/name><value>(OpaqueRef:[^<]+)<\/value>/.exec(raw.body)?.[1] ?? ''
  })
  after(() => sim.close())

  it('answers an XML-RPC login with the Status/Value struct, text/xml and CORS headers', async () => {
    const raw = await postRaw(
      sim,
      '/',
      xmlCall('session.login_with_password', 'root', 'secret', '1.1', 'test'),
    )
    const ref = /<value>(OpaqueRef:[^<]+)<\/value>/.exec(raw.body)?.[1] ?? ''
    assert.match(ref, REF)
    assert.equal(raw.status, 200)
    assert.equal(raw.contentType, 'text/xml')
    assert.equal(raw.headers.get('access-control-allow-origin'), '*')
    assert.equal(raw.headers.get('access-control-allow-headers'), 'X-Requested-With')
    assert.equal(
      raw.body,
      `<?xml version="1.0"?><methodResponse><params><param><value><struct><member><name>Status</name><value>Success</value></member><member><name>Value</name><value>${ref}</value></member></struct></value></param></params></methodResponse>`,
    )
  })

  it('answers XML-RPC failures with ErrorDescription, never <fault>', async () => {
    const raw = await postRaw(sim, '/', xmlCall('VM.get_record', session, 'OpaqueRef:nope'))
    assert.equal(
      raw.body,
      '<?xml version="1.0"?><methodResponse><params><param><value><struct><member><name>Status</name><value>Failure</value></member><member><name>ErrorDescription</name><value><array><data><value>HANDLE_INVALID</value><value>VM</value><value>OpaqueRef:nope</value></data></array></value></member></struct></value></param></params></methodResponse>',
    )
  })

  it('returns system.listMethods as a bare array over XML-RPC, including every get_all_records', async () => {
    const raw = await postRaw(sim, '/', xmlCall('system.listMethods'))
    assert.match(
      raw.body,
      /^<\?xml version="1.0"\?><methodResponse><params><param><value><array><data><value>/,
    )
    assert.doesNotMatch(raw.body, /Status/)
    for (const cls of ['VM', 'VDI', 'VBD', 'VIF', 'SR', 'network', 'host', 'pool', 'task']) {
      assert.ok(raw.body.includes(`<value>${cls}.get_all_records</value>`), cls)
    }
  })

  it('encodes ints as digit strings, floats as doubles, bools and datetimes typed over XML-RPC', async () => {
    const vdi = [...sim.db.all('VDI')][0]?.[0] ?? ''
    const size = await postRaw(sim, '/', xmlCall('VDI.get_virtual_size', session, vdi))
    assert.match(size.body, /<name>Value<\/name><value>\d+<\/value>/)
    const vm = sim.pool.vms.get('web-01') ?? ''
    const record = (await postRaw(sim, '/', xmlCall('VM.get_record', session, vm))).body
    assert.match(record, /<name>HVM_shadow_multiplier<\/name><value><double>1<\/double><\/value>/)
    assert.match(record, /<name>is_a_template<\/name><value><boolean>0<\/boolean><\/value>/)
    assert.match(
      record,
      /<name>snapshot_time<\/name><value><dateTime.iso8601>19700101T00:00:00Z<\/dateTime.iso8601>/,
    )
    assert.match(record, /<name>VCPUs_max<\/name><value>1<\/value>/)
  })

  it('coerces XML-RPC string ints by the method signature', async () => {
    const archive = sim.db.get('VM', sim.pool.vms.get('archive') ?? '')
    const vdi = sim.db.get('VBD', (archive.VBDs as string[])[0] ?? '').VDI as string
    const size = (sim.db.get('VDI', vdi).virtual_size as number) + 1024
    const raw = await postRaw(sim, '/', xmlCall('VDI.resize', session, vdi, String(size)))
    assert.match(raw.body, /<value>Success<\/value>/)
    assert.equal(sim.db.get('VDI', vdi).virtual_size, size)
  })

  it('answers JSON-RPC 2.0 with exactly application/json and the v2 envelopes', async () => {
    const ok = await postRaw(
      sim,
      '/jsonrpc',
      JSON.stringify({ jsonrpc: '2.0', method: 'pool.get_all', params: [session], id: 0 }),
    )
    assert.equal(ok.contentType, 'application/json')
    assert.equal(ok.body, JSON.stringify({ jsonrpc: '2.0', result: [sim.pool.pool], id: 0 }))
    const bad = await postRaw(
      sim,
      '/jsonrpc',
      JSON.stringify({
        jsonrpc: '2.0',
        method: 'VM.get_record',
        params: [session, 'OpaqueRef:x'],
        id: 'abc',
      }),
    )
    assert.equal(
      bad.body,
      '{"jsonrpc":"2.0","error":{"code":1,"message":"HANDLE_INVALID","data":["VM","OpaqueRef:x"]},"id":"abc"}',
    )
  })

  it('answers JSON-RPC 1.0 with result/error/id and the error as an array', async () => {
    const ok = await postRaw(
      sim,
      '/jsonrpc',
      JSON.stringify({ method: 'pool.get_all', params: [session], id: 7 }),
    )
    assert.equal(ok.body, JSON.stringify({ result: [sim.pool.pool], error: null, id: 7 }))
    const bad = await postRaw(
      sim,
      '/jsonrpc',
      JSON.stringify({ method: 'VM.get_by_uuid', params: [session, 'x'], id: 8 }),
    )
    assert.equal(bad.body, '{"result":null,"error":["UUID_INVALID","VM","x"],"id":8}')
  })

  it('keeps JSON ints as numbers and datetimes as XAPI strings', async () => {
    const vm = sim.pool.vms.get('web-01') ?? ''
    const raw = await postRaw(
      sim,
      '/jsonrpc',
      JSON.stringify({ jsonrpc: '2.0', method: 'VM.get_record', params: [session, vm], id: 1 }),
    )
    const record = (JSON.parse(raw.body) as { result: Record<string, unknown> }).result
    assert.equal(typeof record.memory_static_max, 'number')
    assert.equal(record.snapshot_time, '19700101T00:00:00Z')
    assert.equal(record.power_state, 'Running')
  })

  it('answers malformed bodies with HTTP 500 and an HTML page', async () => {
    for (const [path, body] of [
      ['/jsonrpc', '{"jsonrpc":"2.0","method":"pool.get_all","params":[]}'],
      ['/jsonrpc', '{"method":"x","id":1}'],
      ['/', '<methodCall><methodName>x</methodName>'],
    ]) {
      const raw = await postRaw(sim, path ?? '', body ?? '')
      assert.equal(raw.status, 500, body)
      assert.match(raw.body, /^<html><body><h1>HTTP 500 internal server error<\/h1>/)
    }
  })

  it('routes by longest prefix: /xmlrpc and /RPC2 are XML-RPC, /jsonrpc is JSON-RPC, registered handlers win', async () => {
    assert.match((await postRaw(sim, '/xmlrpc', xmlCall('system.listMethods'))).body, /<array>/)
    assert.match((await postRaw(sim, '/RPC2', xmlCall('system.listMethods'))).body, /<array>/)
    sim.registerHttpHandler('/export', (_req, res, url) => {
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`export ${url.pathname}`)
    })
    assert.equal((await postRaw(sim, '/export/', '')).body, 'export /export/')
    const options = await fetch(`${sim.url}/jsonrpc`, { method: 'OPTIONS' })
    assert.equal(options.status, 200)
    assert.equal(options.headers.get('access-control-allow-origin'), '*')
  })

  it('orders dispatch errors like XAPI: session first for unknown methods, arity before session for known ones', async () => {
    const json = async (method: string, params: unknown[]) =>
      (
        JSON.parse(
          (await postRaw(sim, '/jsonrpc', JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }))).body,
        ) as { error: { message: string; data: string[] } }
      ).error
    assert.deepEqual(await json('VM.frobnicate', ['OpaqueRef:dead']), {
      code: 1,
      message: 'SESSION_INVALID',
      data: ['OpaqueRef:dead'],
    })
    assert.deepEqual(await json('VM.frobnicate', [session]), {
      code: 1,
      message: 'MESSAGE_METHOD_UNKNOWN',
      data: ['VM.frobnicate'],
    })
    assert.deepEqual(await json('VM.start', ['OpaqueRef:dead', 'x']), {
      code: 1,
      message: 'MESSAGE_PARAMETER_COUNT_MISMATCH',
      data: ['VM.start', '3', '1'],
    })
    assert.deepEqual(await json('VM.get_record', ['OpaqueRef:dead', 'x']), {
      code: 1,
      message: 'SESSION_INVALID',
      data: ['OpaqueRef:dead'],
    })
    assert.deepEqual(await json('Async.VM.get_record', [session, 'x']), {
      code: 1,
      message: 'Fault',
      data: ['No async mode for this operation (rpc: Async.VM.get_record)'],
    })
    assert.deepEqual(await json('VM.snapshot_with_quiesce', [session, 'x', 'y']), {
      code: 1,
      message: 'MESSAGE_REMOVED',
      data: [],
    })
  })

  it('can emulate an XAPI whose VM.snapshot has no ignore_vdis', async () => {
    const old = await startSimulator({ password: 'x', withoutIgnoreVdis: true })
    try {
      const login = await postRaw(
        old,
        '/jsonrpc',
        JSON.stringify({
          jsonrpc: '2.0',
          method: 'session.login_with_password',
          params: ['root', 'x'],
          id: 1,
        }),
      )
      const s = (JSON.parse(login.body) as { result: string }).result
      const vm = old.pool.vms.get('archive') ?? ''
      const call = (params: unknown[]) =>
        postRaw(
          old,
          '/jsonrpc',
          JSON.stringify({ jsonrpc: '2.0', method: 'VM.snapshot', params: [s, vm, ...params], id: 2 }),
        )
      assert.equal(
        (await call(['a', []])).body,
        '{"jsonrpc":"2.0","error":{"code":1,"message":"MESSAGE_PARAMETER_COUNT_MISMATCH","data":["VM.snapshot","2","3"]},"id":2}',
      )
      assert.match((await call(['a'])).body, /"result":"OpaqueRef:/)
    } finally {
      await old.close()
    }
  })

  it('fails a wrong password with SESSION_AUTHENTICATION_FAILED [user, message]', async () => {
    const raw = await postRaw(
      sim,
      '/jsonrpc',
      JSON.stringify({
        jsonrpc: '2.0',
        method: 'session.login_with_password',
        params: ['root', 'wrong'],
        id: 1,
      }),
    )
    const error = (JSON.parse(raw.body) as { error: { message: string; data: string[] } }).error
    assert.equal(error.message, 'SESSION_AUTHENTICATION_FAILED')
    assert.equal(error.data[0], 'root')
  })

  it('accepts a session created over XML-RPC on JSON-RPC and invalidates it on logout (§8.5 #2)', async () => {
    const login = await postRaw(sim, '/', xmlCall('session.login_with_password', 'root', 'secret'))
    const mine = /<value>(OpaqueRef:[^<]+)<\/value>/.exec(login.body)?.[1] ?? ''
    const body = (method: string) => JSON.stringify({ jsonrpc: '2.0', method, params: [mine], id: 1 })
    assert.match((await postRaw(sim, '/jsonrpc', body('pool.get_all'))).body, /"result"/)
    assert.equal(
      (await postRaw(sim, '/jsonrpc', body('session.logout'))).body,
      '{"jsonrpc":"2.0","result":"","id":1}',
    )
    assert.equal(
      (await postRaw(sim, '/jsonrpc', body('pool.get_all'))).body,
      `{"jsonrpc":"2.0","error":{"code":1,"message":"SESSION_INVALID","data":["${mine}"]},"id":1}`,
    )
  })

  it('refuses logins on a pool member with HOST_IS_SLAVE [master address]', async () => {
    const slave = await startSimulator({ password: 'x', slaveOf: '192.0.2.1' })
    try {
      const raw = await postRaw(slave, '/', xmlCall('session.login_with_password', 'root', 'x'))
      assert.match(raw.body, /<value>HOST_IS_SLAVE<\/value><value>192.0.2.1<\/value>/)
    } finally {
      await slave.close()
    }
    const twoHosts = {
      hosts: [
        { name: 'm', address: '192.0.2.7' },
        { name: 's', address: '192.0.2.8' },
      ],
      srs: [],
      networks: [],
      vms: [],
    }
    const member = await startSimulator({ password: 'x', pool: twoHosts, actAsHost: 's' })
    try {
      const raw = await postRaw(member, '/', xmlCall('session.login_with_password', 'root', 'x'))
      assert.match(raw.body, /<value>HOST_IS_SLAVE<\/value><value>192.0.2.7<\/value>/)
    } finally {
      await member.close()
    }
    // The failed start leaves no block file behind (its temp folder would pile up run after run).
    const tmp = await mkdtemp(join(tmpdir(), 'sim-start-'))
    const previous = process.env.TMPDIR
    process.env.TMPDIR = tmp
    try {
      await assert.rejects(
        startSimulator({ pool: twoHosts, actAsHost: 'nope' }),
        /actAsHost: expected one of m, s, got "nope"/,
      )
      assert.deepEqual(await readdir(tmp), [], 'no temp folder left by the failed start')
    } finally {
      if (previous === undefined) delete process.env.TMPDIR
      else process.env.TMPDIR = previous
      await rm(tmp, { recursive: true, force: true })
    }
  })
})
