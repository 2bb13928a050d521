import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RunDescriptionError } from './run-description-error.ts'
import type { VmCandidate } from './vm-selection.ts'
import { checkVmSelector, exclusionReason, isNoBackupTag, selectVms } from './vm-selection.ts'

const JOB = '0b7e5a3c-0000-4000-8000-000000000001'
const uuid = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`

const vm = (n: number, fields: Partial<VmCandidate> = {}): VmCandidate => ({
  uuid: uuid(n),
  name_label: `vm${n}`,
  name_description: '',
  power_state: 'Running',
  tags: [],
  other_config: {},
  blocked_operations: {},
  is_a_template: false,
  is_a_snapshot: false,
  is_control_domain: false,
  poolUuid: 'pool-a',
  ...fields,
})

const pool = [
  vm(1, { tags: ['prod'] }),
  vm(2, { tags: ['dev'], power_state: 'Halted' }),
  vm(3, { tags: ['prod', 'xo:no-bak'] }),
  vm(4, { tags: ['prod', 'xo:no-bak=health check'] }),
  vm(5, { tags: ['prod'], blocked_operations: { start: 'replica' }, other_config: { 'xo:backup:job': JOB } }),
  vm(6, {
    tags: ['prod'],
    blocked_operations: { start: 'replica' },
    other_config: { 'xo:backup:job': 'other-job' },
  }),
  vm(7, { tags: ['prod'], other_config: { 'xo:backup:job': JOB } }),
  vm(8, { tags: ['prod'], is_a_template: true }),
  vm(9, { tags: ['prod'], is_a_snapshot: true }),
  vm(10, { tags: ['prod'], is_control_domain: true }),
  vm(11, { tags: ['critical'], poolUuid: 'pool-b' }),
  vm(12, { tags: ['xo:no-bakery'] }),
]

const select = (pattern: unknown) => selectVms(checkVmSelector(pattern, ['job', 'vms']), pool, JOB)
const numbers = (vms: readonly VmCandidate[]): number[] => vms.map((v) => Number(v.uuid.slice(-12)))

describe('selectVms', () => {
  // [label, pattern, selected, excluded]
  const cases: [string, unknown, number[], number[]][] = [
    ['by power state', { power_state: 'Halted' }, [2], []],
    ['by tag, with the exclusions', { tags: ['prod'] }, [1, 6, 7], [3, 4, 5]],
    [
      'tags {__or: [[prod], [critical]]}',
      { tags: { __or: [['prod'], ['critical']] } },
      [1, 6, 7, 11],
      [3, 4, 5],
    ],
    ['by pool', { $pool: 'pool-b' }, [11], []],
    ['pool excluded', { $pool: { __not: 'pool-a' } }, [11], []],
    [
      'tags in, tags out',
      { tags: { __and: [{ __or: [['prod']] }, { __not: { __or: [['xo:no-bak']] } }] } },
      [1, 6, 7],
      [4, 5],
    ],
    [
      'several properties (all must match)',
      { type: 'VM', power_state: 'Running', tags: ['critical'] },
      [11],
      [],
    ],
    ['a tag that merely starts like xo:no-bak is not an exclusion', { tags: ['xo:no-bakery'] }, [12], []],
  ]
  for (const [label, pattern, selected, excluded] of cases)
    it(label, () => {
      const result = select(pattern)
      assert.deepEqual(numbers(result.selected), selected)
      assert.deepEqual(numbers(result.excluded.map((e) => e.vm)), excluded)
      assert.deepEqual(result.missing, [])
    })

  it('explicit ids: taken as listed, no exclusion, absent or non-VM ids missing', () => {
    const result = select({ id: { __or: [uuid(3), uuid(5), uuid(1), uuid(8), uuid(99)] } })
    assert.deepEqual(numbers(result.selected), [3, 5, 1])
    assert.deepEqual(result.missing, [uuid(8), uuid(99)])
  })

  it('names the reason of each exclusion', () => {
    assert.deepEqual(
      select({ tags: ['prod'] }).excluded.map((e) => e.reason),
      [
        'tagged "xo:no-bak"',
        'tagged "xo:no-bak=health check"',
        'a replica created by this job (start blocked, other_config xo:backup:job is this job)',
      ],
    )
  })
})

describe('isNoBackupTag and exclusionReason', () => {
  for (const [tag, expected] of [
    ['xo:no-bak', true],
    ['xo:no-bak=reason=with=equals', true],
    ['xo:no-bakery', false],
    ['XO:NO-BAK', false],
    ['prod', false],
  ] as const)
    it(`${tag}: ${expected}`, () => {
      assert.equal(isNoBackupTag(tag), expected)
    })
  it('a VM of this job without blocked start is not a replica', () => {
    assert.equal(exclusionReason(vm(1, { other_config: { 'xo:backup:job': JOB } }), JOB), undefined)
  })
})

describe('checkVmSelector', () => {
  it('explicit ids', () => {
    assert.deepEqual(checkVmSelector({ id: uuid(1) }, ['job', 'vms']), { kind: 'ids', ids: [uuid(1)] })
  })
  const invalid: [unknown, string][] = [
    [{ id: 'web' }, 'job.vms.id: expected a VM uuid, got "web"'],
    [{ id: { __or: [uuid(1), 'web'] } }, 'job.vms.id.__or[1]: expected a VM uuid, got "web"'],
    [
      { id: uuid(1), power_state: 'Running' },
      `job.vms.power_state: expected an IdPattern {id: 'x'} or {id: {__or: ['x', 'y']}} (only the field id), got another field`,
    ],
    [
      {},
      'job.vms: expected a smart pattern testing at least one of type, $pool, power_state, tags, name_label, name_description, got an empty object',
    ],
    [{ type: 'VM-template' }, `job.vms.type: expected 'VM', got "VM-template"`],
    [
      { tags: { __or: [['a'], 'b'] } },
      `job.vms.tags.__or[1]: expected an array of tags the VM must all have (e.g. ['prod']), or {__or: [['a'], ['b']]}, got "b"`,
    ],
    [{ tags: [''] }, 'job.vms.tags[0]: expected a tag string, got ""'],
    [{ $pool: 3 }, 'job.vms.$pool: expected a pool uuid, got 3'],
    [
      { __or: [{ power_state: 'Running' }] },
      'job.vms.__or: expected a VM property among type, $pool, power_state, tags, name_label, name_description, got an unknown property',
    ],
    [
      [],
      "job.vms: expected an IdPattern {id: …} or a smart pattern like {power_state: 'Running'}, got an array",
    ],
  ]
  for (const [pattern, message] of invalid)
    it(`refuses ${JSON.stringify(pattern)}`, () => {
      assert.throws(
        () => checkVmSelector(pattern, ['job', 'vms']),
        (e: unknown) => e instanceof RunDescriptionError && e.message === message,
      )
    })
})
