import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { assertUuid, isUuid } from './ids.ts'
import { BackupError, errorCode, isAbortError, serializeError } from './errors.ts'

class DemoError extends BackupError<'DEMO'> {}

describe('errors', () => {
  it('serialises name, code, details and the cause chain, without stacks', () => {
    const root = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })
    const error = new DemoError('DEMO', 'transfer failed', { details: { vdi: 'x' }, cause: root })
    const json = error.toJSON()
    assert.deepEqual(json, {
      name: 'DemoError',
      message: 'transfer failed',
      code: 'DEMO',
      details: { vdi: 'x' },
      cause: { name: 'Error', message: 'socket hang up', code: 'ECONNRESET' },
    })
    assert.equal(JSON.stringify(json).includes('at '), false)
  })

  it('serialises AggregateError members, XAPI-like params and non-errors', () => {
    const xapi = Object.assign(new Error('VM_BAD_POWER_STATE'), {
      code: 'VM_BAD_POWER_STATE',
      params: ['a', 'b'],
    })
    const json = serializeError(new AggregateError([xapi, 'text'], 'all targets have failed'))
    assert.deepEqual(json.errors, [
      { name: 'Error', message: 'VM_BAD_POWER_STATE', code: 'VM_BAD_POWER_STATE', params: ['a', 'b'] },
      { name: 'NonError', message: 'text' },
    ])
  })

  it('stops at a bounded cause depth (cycles cannot hang it)', () => {
    const a = new Error('a')
    const b = new Error('b', { cause: a })
    ;(a as { cause?: unknown }).cause = b
    let depth = 0
    let node: unknown = serializeError(a)
    while (typeof node === 'object' && node !== null && 'cause' in node) {
      node = node.cause
      depth++
    }
    assert.ok(depth <= 8, 'depth <= 8')
  })

  it('classifies by code and name, never by message', () => {
    assert.equal(errorCode(new DemoError('DEMO', 'x')), 'DEMO')
    assert.equal(errorCode(new Error('DEMO')), undefined)
    assert.equal(isAbortError(AbortSignal.abort().reason), true)
    assert.equal(isAbortError(new Error('AbortError')), false)
  })

  it('validates UUIDs that come from outside', () => {
    assert.equal(isUuid('0f5d2a3c-1b2c-4d5e-8f90-a1b2c3d4e5f6'), true)
    assert.equal(isUuid('../../etc/passwd'), false)
    assert.throws(() => assertUuid('../x', 'VM uuid'), /VM uuid: expected a UUID, got "..\/x"/)
  })
})
