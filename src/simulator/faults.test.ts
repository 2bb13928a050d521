import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createFixedClock } from '../shared/clock.ts'
import type { RunningSimulator } from './index.ts'
import { startSimulator } from './index.ts'
import { FaultRegistry } from './faults.ts'
import type { JsonRpcTestClient } from './testing/raw-rpc.ts'
import { jsonRpcLogin, postRaw, waitTask, xmlCall } from './testing/raw-rpc.ts'

describe('simulator fault injection', () => {
  const clock = createFixedClock()
  let sim: RunningSimulator
  let x: JsonRpcTestClient
  const web = () => sim.pool.vms.get('web-01') ?? ''

  before(async () => {
    sim = await startSimulator({ clock })
    x = await jsonRpcLogin(sim)
  })
  after(() => sim.close())

  it('fails the nth call of a method with the given XAPI error, then behaves again', async () => {
    sim.faults.failCall('VM.get_name_label', {
      nth: 2,
      code: 'SR_BACKEND_FAILURE_46',
      params: ['', 'The VDI is not available', ''],
    })
    assert.equal(await x.call('VM.get_name_label', web()), 'web-01')
    assert.deepEqual(await x.fail('VM.get_name_label', web()), [
      'SR_BACKEND_FAILURE_46',
      '',
      'The VDI is not available',
      '',
    ])
    assert.equal(await x.call('VM.get_name_label', web()), 'web-01')
  })

  it('fails over XML-RPC with the same ErrorDescription', async () => {
    sim.faults.failCall('VM.get_name_label', { code: 'TOO_MANY_PENDING_TASKS' })
    const raw = await postRaw(sim, '/', xmlCall('VM.get_name_label', x.session, web()))
    assert.match(
      raw.body,
      /<name>ErrorDescription<\/name><value><array><data><value>TOO_MANY_PENDING_TASKS<\/value><\/data>/,
    )
  })

  it('adds latency through the injected clock', async () => {
    const before = clock.sleptMs
    sim.faults.addLatency('VM.get_power_state', 1500)
    assert.equal(await x.call('VM.get_power_state', web()), 'Running')
    assert.equal(clock.sleptMs - before, 1500)
    sim.faults.reset()
    await x.call('VM.get_power_state', web())
    assert.equal(clock.sleptMs - before, 1500)
  })

  it('drops the connection without answering and without running the method', async () => {
    sim.faults.dropConnection('VM.set_name_description')
    await assert.rejects(x.call('VM.set_name_description', web(), 'dropped'), TypeError)
    assert.equal(await x.call('VM.get_name_description', web()), '')
  })

  it('expires every session: later calls fail SESSION_INVALID [session]', async () => {
    const other = await jsonRpcLogin(sim)
    sim.faults.expireSessions()
    assert.deepEqual(await x.fail('pool.get_all'), ['SESSION_INVALID', x.session])
    assert.deepEqual(await other.fail('pool.get_all'), ['SESSION_INVALID', other.session])
    x = await jsonRpcLogin(sim)
    assert.deepEqual(await x.call('pool.get_all'), [sim.pool.pool])
  })

  it('ends an Async task in failure with the injected code and params, without side effects', async () => {
    sim.faults.failTask('VM.snapshot', { code: 'SR_FULL', params: ['100', '50'] })
    const task = (await x.call('Async.VM.snapshot', web(), 'doomed')) as string
    const done = await waitTask(x, task)
    assert.equal(done.status, 'failure')
    assert.deepEqual(done.error_info, ['SR_FULL', '100', '50'])
    assert.deepEqual(await x.call('VM.get_by_name_label', 'doomed'), [])
  })

  it('arms data faults per handler path for the next request only; reset disarms them', () => {
    const registry = new FaultRegistry(() => undefined)
    registry.cutStream('/export', 10)
    registry.slowStream('/export', 1000)
    registry.corruptStream('/import', 3)
    assert.deepEqual(registry.takeDataFaults('/export'), { cutAfterBytes: 10, bytesPerSecond: 1000 })
    assert.deepEqual(registry.takeDataFaults('/export'), {}, 'one-shot')
    registry.failTaskAtEnd('/export_raw_vdi', { code: 'VDI_IO_ERROR' })
    registry.reset()
    assert.deepEqual(registry.takeDataFaults('/import'), {})
    assert.deepEqual(registry.takeDataFaults('/export_raw_vdi'), {})
  })
})
