import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Clock } from '../../shared/clock.ts'
import { createFixedClock } from '../../shared/clock.ts'
import type { CallOptions, XapiClient, XapiValue } from '../../xapi/types.ts'
import { XapiError } from '../../xapi/xapi-error.ts'
import { callAsyncSettled } from './settled-async-call.ts'

/** A clock whose sleeps never end (unless aborted): the settle bound never strikes. */
const patientClock: Clock = {
  now: () => 0,
  sleep: (_ms, signal) =>
    new Promise((_resolve, reject) => {
      signal?.addEventListener('abort', () => {
        reject(signal.reason as Error)
      })
    }),
}

type Settle = { readonly result: XapiValue } | { readonly error: Error } | 'never'

/**
 * A client whose first waitTask ends only by abort (or with `firstError`), and whose second (the
 * settle after an abort) ends as `settle` says; every call is recorded.
 */
function fakeXapi(settle: Settle, firstError?: Error): { xapi: XapiClient; calls: string[] } {
  const calls: string[] = []
  let waits = 0
  const xapi = {
    call: (method: string) => {
      calls.push(method)
      return Promise.resolve(method.startsWith('Async.') ? 'OpaqueRef:task' : '')
    },
    waitTask: (_ref: string, options: CallOptions = {}) => {
      waits++
      calls.push(`wait ${waits}`)
      if (waits === 1 && firstError !== undefined) return Promise.reject(firstError)
      if (waits > 1 && settle !== 'never') {
        return 'result' in settle ? Promise.resolve(settle.result) : Promise.reject(settle.error)
      }
      return new Promise((_resolve, reject) => {
        options.signal?.addEventListener('abort', () => {
          reject(options.signal?.reason as Error)
        })
      })
    },
  } as unknown as XapiClient
  return { xapi, calls }
}

describe('callAsyncSettled', () => {
  it('returns the result and destroys the task', async () => {
    const calls: string[] = []
    const xapi = {
      call: (method: string) => {
        calls.push(method)
        return Promise.resolve(method.startsWith('Async.') ? 'OpaqueRef:task' : '')
      },
      waitTask: () => Promise.resolve('OpaqueRef:vm'),
    } as unknown as XapiClient
    const signal = new AbortController().signal
    assert.equal(
      await callAsyncSettled(xapi, 'VM.clone', [], { signal, clock: patientClock }),
      'OpaqueRef:vm',
    )
    assert.deepEqual(calls, ['Async.VM.clone', 'task.destroy'])
  })

  it("names the method in the task's XAPI error", async () => {
    const { xapi } = fakeXapi('never', new XapiError('SR_FULL', ['1', '0'], 'task'))
    const signal = new AbortController().signal
    await assert.rejects(callAsyncSettled(xapi, 'VM.copy', [], { signal, clock: patientClock }), {
      code: 'SR_FULL',
      message: 'VM.copy: SR_FULL ["1", "0"]',
    })
  })

  it('hands a task that succeeded despite the abort to onLateSuccess, then rethrows the abort', async () => {
    const { xapi, calls } = fakeXapi({ result: 'OpaqueRef:late-vm' })
    const abort = new AbortController()
    const late: XapiValue[] = []
    const pending = callAsyncSettled(xapi, 'VM.clone', [], {
      signal: abort.signal,
      clock: patientClock,
      onLateSuccess: (result) => {
        late.push(result)
        return Promise.resolve()
      },
    })
    await Promise.resolve()
    abort.abort()
    await assert.rejects(pending, { name: 'AbortError' })
    assert.deepEqual(late, ['OpaqueRef:late-vm'])
    assert.deepEqual(calls, ['Async.VM.clone', 'wait 1', 'wait 2', 'task.destroy'])
  })

  it('a cancelled task made nothing: no late success', async () => {
    const { xapi } = fakeXapi({ error: new XapiError('TASK_CANCELLED', ['OpaqueRef:task'], 'task') })
    const abort = new AbortController()
    let lateCalls = 0
    const pending = callAsyncSettled(xapi, 'VM.clone', [], {
      signal: abort.signal,
      clock: patientClock,
      onLateSuccess: () => {
        lateCalls++
        return Promise.resolve()
      },
      onUnsettled: () => assert.fail('the task ended'),
    })
    await Promise.resolve()
    abort.abort()
    await assert.rejects(pending, { name: 'AbortError' })
    assert.equal(lateCalls, 0)
  })

  it('a task that does not end within the bound is reported unsettled and kept', async () => {
    const { xapi, calls } = fakeXapi('never')
    const abort = new AbortController()
    const unsettled: string[] = []
    const pending = callAsyncSettled(xapi, 'VM.copy', [], {
      signal: abort.signal,
      clock: createFixedClock(), // its sleeps end at once: the bound strikes
      onUnsettled: (ref) => unsettled.push(ref),
    })
    await Promise.resolve()
    abort.abort()
    await assert.rejects(pending, { name: 'AbortError' })
    assert.deepEqual(unsettled, ['OpaqueRef:task'])
    assert.ok(!calls.includes('task.destroy'), 'a task still running is not destroyed')
  })

  it('an already aborted signal calls nothing', async () => {
    const { xapi, calls } = fakeXapi('never')
    const abort = new AbortController()
    abort.abort()
    await assert.rejects(
      callAsyncSettled(xapi, 'VM.clone', [], { signal: abort.signal, clock: patientClock }),
      {
        name: 'AbortError',
      },
    )
    assert.deepEqual(calls, [])
  })

  it('refuses an Async answer that is not a task ref', async () => {
    const xapi = { call: () => Promise.resolve(42) } as unknown as XapiClient
    const signal = new AbortController().signal
    await assert.rejects(callAsyncSettled(xapi, 'VM.clone', [], { signal, clock: patientClock }), {
      name: 'TypeError',
      message: 'Async.VM.clone: expected a task ref, got number',
    })
  })
})
