// Fault injection through the simulator: expired sessions, dropped connections, failing and
// cancelled tasks, slow calls, HOST_IS_SLAVE and TLS — what the engine must survive (issue 4).
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startSimulator } from '../../src/simulator/index.ts'
import type { RunningSimulator } from '../../src/simulator/index.ts'
import { HttpXapiClient } from '../../src/xapi/http-xapi-client.ts'
import type { HttpXapiClientOptions } from '../../src/xapi/http-xapi-client.ts'
import { XapiError, XapiTransportError, isRetryableXapiError } from '../../src/xapi/xapi-error.ts'

function snapshotCount(sim: RunningSimulator): number {
  return sim.db.all('VM').filter(([, r]) => r.is_a_snapshot === true).length
}

for (const transport of ['json-rpc', 'xml-rpc'] as const) {
  describe(`XAPI client faults over ${transport}`, () => {
    let sim: RunningSimulator
    const clients: HttpXapiClient[] = []
    const connect = (options: Partial<HttpXapiClientOptions> = {}): HttpXapiClient => {
      const client = new HttpXapiClient({
        url: sim.url,
        user: sim.username,
        password: sim.password,
        transport,
        retryDelayMs: 1,
        ...options,
      })
      clients.push(client)
      return client
    }
    const vm = (name: string): string => sim.pool.vms.get(name) ?? assert.fail(`no VM ${name}`)

    before(async () => {
      sim = await startSimulator()
    })
    after(async () => {
      await Promise.all(clients.map((c) => c.disconnect()))
      await sim.close()
    })

    it('re-establishes a session that expires in the middle of a job', async () => {
      sim.faults.reset()
      const client = connect()
      const snap = await client.callAsync('VM.snapshot', [vm('web-01'), 'job-snap'])
      sim.faults.expireSessions()
      assert.equal(sim.db.all('session').length, 0)
      await client.call('VM.set_is_a_template', [snap, false])
      sim.faults.expireSessions()
      await client.call('VM.add_to_other_config', [snap, 'xo:backup:job', 'job-1'])
      sim.faults.expireSessions()
      const record = await client.getRecord('VM', snap)
      assert.equal(record.is_a_template, false)
      assert.equal(record.other_config['xo:backup:job'], 'job-1')
      assert.equal(sim.db.all('session').length, 1)
    })

    it('a dropped read-only call is retried, and surfaces typed and retryable when tries run out', async () => {
      sim.faults.reset()
      sim.faults.dropConnection('VM.get_record')
      assert.equal((await connect().getRecord('VM', vm('archive'))).name_label, 'archive')
      const once = connect({ safeCallTries: 1 })
      await once.connect()
      sim.faults.dropConnection('VM.get_record')
      await assert.rejects(once.getRecord('VM', vm('archive')), (error: unknown) => {
        assert.ok(error instanceof XapiTransportError, 'error instanceof XapiTransportError')
        assert.equal(error.failure, 'connection-lost')
        assert.equal(error.method, 'VM.get_record')
        assert.equal(isRetryableXapiError(error), true)
        return true
      })
    })

    it('a dropped side-effecting call is not retried and is not retryable', async () => {
      sim.faults.reset()
      const client = connect()
      await client.connect()
      const before = snapshotCount(sim)
      sim.faults.dropConnection('VM.snapshot')
      await assert.rejects(client.call('VM.snapshot', [vm('archive'), 'dropped']), (error: unknown) => {
        assert.ok(error instanceof XapiTransportError, 'error instanceof XapiTransportError')
        assert.equal(error.requestMayHaveReachedServer, true)
        assert.equal(isRetryableXapiError(error), false)
        return true
      })
      // The simulator did not run the dropped call; a retry would have created a snapshot.
      assert.equal(snapshotCount(sim), before)
    })

    it('a failing Async task surfaces its XAPI code and params', async () => {
      sim.faults.reset()
      sim.faults.failTask('VM.snapshot', {
        code: 'SR_BACKEND_FAILURE_44',
        params: ['', 'There is insufficient space', ''],
      })
      await assert.rejects(
        connect().callAsync('VM.snapshot', [vm('web-01'), 'no-space']),
        (error: unknown) => {
          assert.ok(error instanceof XapiError, 'error instanceof XapiError')
          assert.equal(error.code, 'SR_BACKEND_FAILURE_44')
          assert.deepEqual(error.params, ['', 'There is insufficient space', ''])
          assert.equal(error.method, 'VM.snapshot')
          return true
        },
      )
      sim.faults.failCall('VM.snapshot', { code: 'TOO_MANY_PENDING_TASKS' })
      await assert.rejects(connect().call('VM.snapshot', [vm('web-01'), 'busy']), (error: unknown) =>
        isRetryableXapiError(error),
      )
    })

    it('aborting callAsync cancels the task on the server', async () => {
      sim.faults.reset()
      sim.faults.addLatency('VM.snapshot', 60_000)
      const client = connect()
      await client.connect()
      const controller = new AbortController()
      const pending = client.callAsync('VM.snapshot', [vm('archive'), 'to-cancel'], {
        signal: controller.signal,
      })
      const pendingTask = (): string | undefined =>
        sim.db.all('task').find(([, t]) => t.status === 'pending')?.[0]
      while (pendingTask() === undefined) await new Promise((resolve) => setImmediate(resolve))
      const taskRef = pendingTask() ?? ''
      controller.abort()
      await assert.rejects(pending, { name: 'AbortError' })
      while (
        sim.db.find('task', taskRef)?.status === 'cancelling' ||
        sim.db.find('task', taskRef)?.status === 'pending'
      ) {
        await new Promise((resolve) => setImmediate(resolve))
      }
      assert.equal(sim.db.get('task', taskRef).status, 'cancelled')
      assert.deepEqual(sim.db.get('task', taskRef).error_info, ['TASK_CANCELLED', taskRef])
      sim.faults.reset()
    })

    it('times out a slow call with a typed error', async () => {
      sim.faults.reset()
      const client = connect({ safeCallTries: 1 })
      await client.connect()
      // The server-side wait cannot be interrupted, so keep it short; it only has to outlast the timeout.
      sim.faults.addLatency('VM.get_all', 1000)
      await assert.rejects(client.call('VM.get_all', [], { timeoutMs: 20 }), (error: unknown) => {
        assert.ok(error instanceof XapiTransportError, 'error instanceof XapiTransportError')
        assert.equal(error.failure, 'timeout')
        return true
      })
      sim.faults.reset()
    })
  })
}

describe('XAPI client connections', () => {
  const sims: RunningSimulator[] = []
  const clients: HttpXapiClient[] = []
  after(async () => {
    await Promise.all(clients.map((c) => c.disconnect()))
    await Promise.all(sims.map((s) => s.close()))
  })

  it('follows HOST_IS_SLAVE from a pool member to the master', async () => {
    const master = await startSimulator({ password: 'pw' })
    sims.push(master)
    const masterHost = new URL(master.url).host
    const member = await startSimulator({ password: 'pw', slaveOf: masterHost })
    sims.push(member)
    const client = new HttpXapiClient({ url: member.url, user: 'root', password: 'pw' })
    clients.push(client)
    const pools = await client.getAllRecords('pool')
    assert.deepEqual([...pools.keys()], [master.pool.pool])
    assert.equal(client.url, `${master.url}/`)
  })

  it('verifies TLS by default: the CA works, an unknown certificate fails, allowUnauthorized is an opt-in', async () => {
    const sim = await startSimulator({ tls: true })
    sims.push(sim)
    assert.ok(sim.caCertPem !== undefined, 'sim.caCertPem !== undefined')
    const base = { url: sim.url, user: sim.username, password: sim.password }
    const trusted = new HttpXapiClient({ ...base, ca: sim.caCertPem })
    const strict = new HttpXapiClient(base)
    const lax = new HttpXapiClient({ ...base, allowUnauthorized: true })
    clients.push(trusted, strict, lax)
    assert.equal((await trusted.getAllRecords('pool')).size, 1)
    await assert.rejects(strict.connect(), (error: unknown) => {
      assert.ok(error instanceof XapiTransportError, 'error instanceof XapiTransportError')
      assert.equal(error.failure, 'tls')
      assert.equal(error.retryable, false)
      return true
    })
    assert.equal((await lax.getAllRecords('pool')).size, 1)
  })
})
