import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { authenticateHttpRequest } from './http-auth.ts'
import type { RunningSimulator } from './index.ts'
import { startSimulator } from './index.ts'
import type { JsonRpcTestClient } from './testing/raw-rpc.ts'
import { jsonRpcLogin } from './testing/raw-rpc.ts'

// §8.5 #2 for HTTP handlers: a dead session gets 401 and fails the given task.
describe('HTTP handler authentication', () => {
  let sim: RunningSimulator
  let x: JsonRpcTestClient

  before(async () => {
    sim = await startSimulator({ password: 'pw' })
    sim.registerHttpHandler('/probe', (request, response, url, ctx) => {
      const caller = authenticateHttpRequest(ctx, request, response, url)
      if (caller === undefined) return
      response.writeHead(200).end(caller.session === url.searchParams.get('session_id') ? 'same' : 'basic')
      caller.release()
    })
    x = await jsonRpcLogin(sim)
  })
  after(() => sim.close())

  it('accepts session_id from the query or a cookie', async () => {
    assert.equal(await (await fetch(`${sim.url}/probe?session_id=${x.session}`)).text(), 'same')
    const cookie = await fetch(`${sim.url}/probe`, { headers: { cookie: `session_id=${x.session}` } })
    assert.equal(cookie.status, 200)
  })

  it('accepts Basic credentials with a session that lives only for the request', async () => {
    const sessions = sim.db.all('session').length
    const basic = Buffer.from('root:pw').toString('base64')
    const response = await fetch(`${sim.url}/probe`, { headers: { authorization: `Basic ${basic}` } })
    assert.equal(await response.text(), 'basic')
    assert.equal(sim.db.all('session').length, sessions)
  })

  it('answers 401 to a logged-out session and fails the task_id task', async () => {
    const other = await jsonRpcLogin(sim)
    const task = (await other.call('task.create', 'probe', '')) as string
    await other.call('session.logout')
    const response = await fetch(`${sim.url}/probe?session_id=${other.session}&task_id=${task}`)
    assert.equal(response.status, 401)
    assert.equal(response.headers.get('www-authenticate'), 'Basic realm="xapi"')
    const record = (await x.call('task.get_record', task)) as Record<string, unknown>
    assert.equal(record.status, 'failure')
    assert.equal((record.error_info as string[])[0], 'SESSION_AUTHENTICATION_FAILED')
  })
})
