import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BackupError } from '../shared/errors.ts'
import { XapiError, XapiTransportError, isReadOnlyMethod, isRetryableXapiError } from './xapi-error.ts'
import { redactSecrets, redactUrl } from './redact-secrets.ts'

describe('XAPI errors', () => {
  it('XapiError is a BackupError whose code is the XAPI code', () => {
    const error = new XapiError('VDI_IN_USE', ['OpaqueRef:vdi', 'destroy'], 'VDI.destroy')
    assert.ok(error instanceof BackupError, 'error instanceof BackupError')
    assert.equal(error.code, 'VDI_IN_USE')
    assert.equal(error.message, 'VDI.destroy: VDI_IN_USE ["OpaqueRef:vdi", "destroy"]')
    assert.deepEqual(error.toJSON().params, ['OpaqueRef:vdi', 'destroy'])
  })

  it('hides the session ref of SESSION_INVALID and session ids in params', () => {
    const error = new XapiError('SESSION_INVALID', ['OpaqueRef:secret'], 'VM.get_all')
    assert.doesNotMatch(JSON.stringify(error.toJSON()) + error.message, /secret/)
    assert.equal(
      redactSecrets('GET /export?ref=x&session_id=OpaqueRef:s&task_id=t'),
      'GET /export?ref=x&session_id=*****&task_id=t',
    )
    assert.equal(
      redactUrl(new URL('https://root:pw@h/export?session_id=OpaqueRef:s')),
      'https://h/export?session_id=*****',
    )
  })

  it('classifies read-only calls and retryable errors (xapi.md §1.8 item 4)', () => {
    for (const m of [
      'VM.get_record',
      'VDI.get_all_records',
      'system.listMethods',
      'event.from',
      'session.login_with_password',
    ]) {
      assert.equal(isReadOnlyMethod(m), true, m)
    }
    for (const m of ['VM.snapshot', 'Async.VM.get_record', 'VM.set_name_label', 'task.cancel'])
      assert.equal(isReadOnlyMethod(m), false, m)
    assert.equal(
      isRetryableXapiError(new XapiTransportError('VM.get_record', 'connection-lost', true, new Error('x'))),
      true,
    )
    assert.equal(
      isRetryableXapiError(new XapiTransportError('VM.snapshot', 'connection-lost', true, new Error('x'))),
      false,
    )
    assert.equal(
      isRetryableXapiError(new XapiTransportError('VM.snapshot', 'connect', false, new Error('x'))),
      true,
    )
    assert.equal(
      isRetryableXapiError(new XapiTransportError('VM.get_record', 'tls', false, new Error('x'))),
      false,
    )
    assert.equal(isRetryableXapiError(new XapiError('TOO_MANY_PENDING_TASKS', [], 'VM.snapshot')), true)
    assert.equal(isRetryableXapiError(new XapiError('VM_BAD_POWER_STATE', [], 'VM.start')), false)
    assert.equal(isRetryableXapiError(new Error('other')), false)
  })
})
