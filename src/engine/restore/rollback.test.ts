import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createFixedClock } from '../../shared/clock.ts'
import { XapiError } from '../../xapi/xapi-error.ts'
import type { XapiClient } from '../../xapi/types.ts'
import { describeLeftovers, Rollback } from './rollback.ts'

/** A client whose `call` records each call and answers from `answer` (throw to fail). */
function fakeXapi(answer: (method: string, ref: string, attempt: number) => void): {
  xapi: XapiClient
  calls: string[]
} {
  const calls: string[] = []
  const attempts = new Map<string, number>()
  const xapi = {
    call: async (method: string, args: readonly string[] = []) => {
      await Promise.resolve()
      const ref = args[0] ?? ''
      const attempt = (attempts.get(ref) ?? 0) + 1
      attempts.set(ref, attempt)
      calls.push(`${method} ${ref}`)
      answer(method, ref, attempt)
      return ''
    },
  } as unknown as XapiClient
  return { xapi, calls }
}

describe('Rollback', () => {
  it('destroys newest first: devices, then disks, then the VM', async () => {
    const { xapi, calls } = fakeXapi(() => undefined)
    const rollback = new Rollback(xapi, createFixedClock())
    rollback.add('VM', 'OpaqueRef:vm')
    rollback.add('VDI', 'OpaqueRef:vdi')
    rollback.add('VBD', 'OpaqueRef:vbd')
    rollback.add('VIF', 'OpaqueRef:vif')
    assert.deepEqual(rollback.refs('VDI'), ['OpaqueRef:vdi'])
    assert.deepEqual(await rollback.destroyAll(), [])
    assert.deepEqual(calls, ['VIF.destroy OpaqueRef:vif', 'VBD.destroy OpaqueRef:vbd', 'VDI.destroy OpaqueRef:vdi', 'VM.destroy OpaqueRef:vm'])
    assert.deepEqual(await rollback.destroyAll(), [], 'each object is destroyed once')
    assert.equal(calls.length, 4)
  }) // prettier-ignore

  it('an object already gone is destroyed; a busy VDI is retried; others are left and named', async () => {
    const clock = createFixedClock()
    const { xapi, calls } = fakeXapi((method, ref, attempt) => {
      if (ref === 'OpaqueRef:gone') throw new XapiError('HANDLE_INVALID', ['VDI', ref], method)
      if (ref === 'OpaqueRef:busy' && attempt < 3) throw new XapiError('VDI_IN_USE', [ref, 'destroy'], method)
      if (ref === 'OpaqueRef:stuck') throw new XapiError('VDI_IN_USE', [ref, 'destroy'], method)
      if (method === 'VM.destroy')
        throw new XapiError('VM_BAD_POWER_STATE', [ref, 'halted', 'running'], method)
    })
    const rollback = new Rollback(xapi, clock)
    rollback.add('VM', 'OpaqueRef:vm')
    for (const ref of ['OpaqueRef:gone', 'OpaqueRef:busy', 'OpaqueRef:stuck']) rollback.add('VDI', ref)
    const leftovers = await rollback.destroyAll()
    assert.deepEqual(
      leftovers.map((l) => `${l.cls} ${l.ref}`),
      ['VDI OpaqueRef:stuck', 'VM OpaqueRef:vm'],
    )
    assert.equal(calls.filter((c) => c === 'VDI.destroy OpaqueRef:busy').length, 3, 'retried until free')
    assert.equal(
      calls.filter((c) => c === 'VDI.destroy OpaqueRef:stuck').length,
      6,
      'a bounded number of tries',
    )
    assert.equal(
      calls.filter((c) => c === 'VM.destroy OpaqueRef:vm').length,
      1,
      'other errors are not retried',
    )
    assert.ok(clock.sleptMs > 0, 'waits between tries, on the injected clock')
    assert.equal(
      describeLeftovers(leftovers),
      '; could not remove what it created, left on the pool: VDI OpaqueRef:stuck (VDI_IN_USE), VM OpaqueRef:vm (VM_BAD_POWER_STATE)',
    )
    assert.equal(describeLeftovers([]), '')
  })
})
