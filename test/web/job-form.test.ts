import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { JsonObject } from '../../src/shared/json.ts'
import type { JobForm } from '../../web/src/job-form.ts'
import { fieldOfErrorPath, formOfJob, idPattern, idsOfPattern, jobOfForm } from '../../web/src/job-form.ts'

const VM1 = '11111111-1111-4111-8111-111111111111'
const VM2 = '22222222-2222-4222-8222-222222222222'

const JOB: JsonObject = {
  id: 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
  name: 'nightly',
  mode: 'delta',
  type: 'backup',
  remotes: { id: { __or: ['r1', 'r2'] } },
  vms: { id: VM1 },
  settings: {
    '': { exportRetention: 14, timeout: '2h', fullInterval: 7 },
    'schedule-1': { exportRetention: 3 },
  },
}

function built(form: JobForm, base?: JsonObject): JsonObject {
  const result = jobOfForm(form, base)
  assert.ok(result.ok, result.ok ? '' : result.problem.message)
  return result.value
}

describe('job form', () => {
  it('IdPatterns: one id as {id}, several as {id: {__or}} (the shape the engine checks)', () => {
    assert.deepEqual(idPattern(['a']), { id: 'a' })
    assert.deepEqual(idPattern(['a', 'b']), { id: { __or: ['a', 'b'] } })
    assert.deepEqual(idsOfPattern({ id: { __or: ['a', 'b'] } }), ['a', 'b'])
    assert.deepEqual(idsOfPattern(undefined), [])
    assert.equal(idsOfPattern({ power_state: 'Running' }), undefined)
    assert.equal(idsOfPattern({ id: { __not: 'a' } }), undefined)
  })

  it('shows a job: common settings as text, the rest of settings as advanced JSON', () => {
    const form = formOfJob(JOB)
    assert.equal(form.name, 'nightly')
    assert.deepEqual(form.remotes, ['r1', 'r2'])
    assert.deepEqual(form.vmIds, [VM1])
    assert.equal(form.vmsMode, 'ids')
    assert.equal(form.common.exportRetention, '14')
    assert.equal(form.common.timeout, '2h')
    assert.equal(form.common.concurrency, '')
    assert.deepEqual(JSON.parse(form.advancedJson), {
      '': { fullInterval: 7 },
      'schedule-1': { exportRetention: 3 },
    })
  })

  it('round-trips a job unchanged, keeping the fields the form does not show', () => {
    assert.deepEqual(built(formOfJob(JOB), JOB), JOB)
  })

  it('builds what was edited: integers as numbers, durations as typed, empty fields left out', () => {
    const form = formOfJob(JOB)
    const job = built(
      {
        ...form,
        vmIds: [VM1, VM2],
        srs: ['sr1'],
        remotes: [],
        common: { ...form.common, exportRetention: '', concurrency: '4', timeout: '90' },
      },
      JOB,
    )
    assert.deepEqual(job.vms, { id: { __or: [VM1, VM2] } })
    assert.deepEqual(job.srs, { id: 'sr1' })
    assert.equal(job.remotes, undefined)
    assert.deepEqual((job.settings as JsonObject)[''], { fullInterval: 7, concurrency: 4, timeout: 90 })
  })

  it('sends a value it cannot read as typed, so the server names the field (e.g. -1 stays a number, "x" a string)', () => {
    const form = formOfJob(JOB)
    const job = built({ ...form, common: { ...form.common, exportRetention: '-1', snapshotRetention: 'x' } })
    const settings = (job.settings as JsonObject)[''] as JsonObject
    assert.equal(settings.exportRetention, -1)
    assert.equal(settings.snapshotRetention, 'x')
  })

  it('smart mode: the pattern as given; a new job starts in delta mode with no VM', () => {
    const fresh = formOfJob(undefined)
    assert.equal(fresh.mode, 'delta')
    const job = built({ ...fresh, name: 'prod', vmsMode: 'smart', smartJson: '{"tags": ["prod"]}' })
    assert.deepEqual(job.vms, { tags: ['prod'] })
    assert.equal(formOfJob(job).vmsMode, 'smart')
  })

  it('refuses what it can see is wrong, naming the field', () => {
    const form = formOfJob(JOB)
    const problem = (f: JobForm) => {
      const result = jobOfForm(f, JOB)
      return result.ok ? undefined : result.problem.field
    }
    assert.equal(problem({ ...form, name: '  ' }), 'name')
    assert.equal(problem({ ...form, vmIds: [] }), 'vms')
    assert.equal(problem({ ...form, vmsMode: 'smart', smartJson: '{"tags": [' }), 'vms')
    assert.equal(problem({ ...form, vmsMode: 'smart', smartJson: '{}' }), 'vms')
    assert.equal(problem({ ...form, advancedJson: '[1]' }), 'advanced')
    assert.equal(problem({ ...form, advancedJson: '{"": {"exportRetention": 2}}' }), 'exportRetention')
  })

  it('maps an API error path to the form field it names', () => {
    assert.equal(fieldOfErrorPath("job.settings[''].exportRetention"), 'exportRetention')
    assert.equal(fieldOfErrorPath("settings[''].reportWhen"), 'reportWhen')
    assert.equal(fieldOfErrorPath("job.settings[''].fullInterval"), 'advanced')
    assert.equal(fieldOfErrorPath('job.settings.abc.exportRetention'), 'advanced')
    assert.equal(fieldOfErrorPath('job.vms.id.__or[1]'), 'vms')
    assert.equal(fieldOfErrorPath('job.remotes.id'), 'remotes')
    assert.equal(fieldOfErrorPath('job.name'), 'name')
    assert.equal(fieldOfErrorPath('job'), undefined)
    assert.equal(fieldOfErrorPath(undefined), undefined)
  })
})
