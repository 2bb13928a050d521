import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { escapeLabelValue, renderMetrics, type MetricsInput } from './metrics.ts'

interface Sample {
  readonly name: string
  readonly labels: Record<string, string>
  readonly value: number
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/
const VALUE = /^(?:NaN|[+-]Inf|[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)$/

/** Reads `{a="x",b="y"}` from the start of `text`; returns the labels and what follows. */
function parseLabels(text: string): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = {}
  let rest = text.slice(1)
  while (!rest.startsWith('}')) {
    const name = LABEL_NAME.exec(rest)?.[0]
    assert.ok(
      name !== undefined && rest[name.length] === '=' && rest[name.length + 1] === '"',
      `label at ${rest}`,
    )
    let i = name.length + 2
    let value = ''
    for (; rest[i] !== '"'; i++) {
      const c = rest[i]
      assert.ok(c !== undefined && c !== '\n', `unterminated label value in ${text}`)
      if (c !== '\\') {
        value += c
        continue
      }
      const escaped = rest[++i]
      assert.ok(escaped === '\\' || escaped === '"' || escaped === 'n', `bad escape \\${escaped} in ${text}`)
      value += escaped === 'n' ? '\n' : escaped
    }
    assert.ok(!(name in labels), `label ${name} twice`)
    labels[name] = value
    rest = rest.slice(i + 1)
    if (rest.startsWith(',')) rest = rest.slice(1)
    else assert.ok(rest.startsWith('}'), `expected , or } at ${rest}`)
  }
  return { labels, rest: rest.slice(1) }
}

/**
 * Checks `text` against the text exposition format 0.0.4 grammar and its rules (one TYPE and HELP
 * per family, TYPE before the family's samples, families contiguous, no duplicate series) and
 * returns the samples.
 */
function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  assert.ok(text.endsWith('\n'), 'ends with a line feed')
  const types = new Map<string, string>()
  const helps = new Set<string>()
  const samples: Sample[] = []
  const series = new Set<string>()
  const closed = new Set<string>()
  let current: string | undefined
  for (const line of text.slice(0, -1).split('\n')) {
    const comment = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line)
    if (comment !== null) {
      const [, kind, name = '', rest = ''] = comment
      if (kind === 'TYPE') {
        assert.ok(!types.has(name), `TYPE ${name} twice`)
        assert.match(rest, /^(counter|gauge|histogram|summary|untyped)$/)
        types.set(name, rest)
      } else {
        assert.ok(!helps.has(name), `HELP ${name} twice`)
        assert.doesNotMatch(rest.replace(/\\[\\n]/g, ''), /\\/, 'HELP escapes only \\\\ and \\n')
        helps.add(name)
      }
      continue
    }
    assert.ok(!line.startsWith('#') && line.trim() !== '', `unexpected line ${JSON.stringify(line)}`)
    const name = METRIC_NAME.exec(line)?.[0]
    assert.ok(name !== undefined, `metric name in ${line}`)
    const { labels, rest } =
      line[name.length] === '{'
        ? parseLabels(line.slice(name.length))
        : { labels: {}, rest: line.slice(name.length) }
    const [, value = '', timestamp] = /^ (\S+)(?: (-?\d+))?$/.exec(rest) ?? []
    assert.match(value, VALUE, `value of ${line}`)
    assert.equal(timestamp, undefined, 'no timestamps are written')
    const family = [...types.keys()].find(
      (f) => f === name || (types.get(f) === 'summary' && (name === `${f}_sum` || name === `${f}_count`)),
    )
    assert.ok(family !== undefined, `TYPE of ${name} comes before its samples`)
    if (family !== current) {
      assert.ok(!closed.has(family), `samples of ${family} are contiguous`)
      if (current !== undefined) closed.add(current)
      current = family
    }
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`
    assert.ok(!series.has(key), `series ${key} twice`)
    series.add(key)
    samples.push({
      name,
      labels,
      value: value === '+Inf' ? Infinity : value === '-Inf' ? -Infinity : Number(value),
    })
  }
  for (const name of types.keys()) assert.ok(helps.has(name), `HELP of ${name}`)
  return { samples, types }
}

const input: MetricsInput = {
  jobs: [
    {
      job: 'nightly',
      runs: { success: 12, failure: 2, running: 1 },
      transferredBytes: 5 * 1024 ** 3,
      durationSecondsSum: 1234.5,
      durationCount: 14,
      lastSuccessMs: Date.UTC(2026, 0, 2, 3, 12, 5, 250),
    },
    {
      job: 'a "quoted" \\ job\nwith a line break',
      runs: { missed: 3 },
      transferredBytes: 0,
      durationSecondsSum: 0,
      durationCount: 0,
      lastSuccessMs: null,
    },
  ],
  vms: [
    {
      uuid: '11111111-1111-4111-8111-111111111111',
      name: 'web "front"\\1',
      lastSuccessMs: Date.UTC(2026, 0, 2),
    },
  ],
  runningRuns: 1,
}

const value = (
  samples: readonly Sample[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined =>
  samples.find((s) => s.name === name && JSON.stringify(s.labels) === JSON.stringify(labels))?.value

describe('renderMetrics', () => {
  it('writes valid exposition text with the documented families and types', () => {
    const { samples, types } = parseExposition(renderMetrics(input))
    assert.deepEqual(Object.fromEntries(types), {
      xapi_backup_runs_total: 'counter',
      xapi_backup_transferred_bytes_total: 'counter',
      xapi_backup_run_duration_seconds: 'summary',
      xapi_backup_last_success_timestamp_seconds: 'gauge',
      xapi_backup_vm_last_success_timestamp_seconds: 'gauge',
      xapi_backup_runs_running: 'gauge',
    })
    assert.equal(value(samples, 'xapi_backup_runs_total', { job: 'nightly', status: 'success' }), 12)
    assert.equal(
      value(samples, 'xapi_backup_runs_total', { job: 'nightly', status: 'interrupted' }),
      0,
      'zeros are written',
    )
    assert.equal(
      samples.filter((s) => s.name === 'xapi_backup_runs_total' && s.labels.status === 'running').length,
      0,
      'running runs are not counted (a counter may not go down)',
    )
    assert.equal(value(samples, 'xapi_backup_transferred_bytes_total', { job: 'nightly' }), 5 * 1024 ** 3)
    assert.equal(value(samples, 'xapi_backup_run_duration_seconds_sum', { job: 'nightly' }), 1234.5)
    assert.equal(value(samples, 'xapi_backup_run_duration_seconds_count', { job: 'nightly' }), 14)
    assert.equal(
      value(samples, 'xapi_backup_last_success_timestamp_seconds', { job: 'nightly' }),
      1767323525.25,
    )
    assert.equal(
      samples.filter((s) => s.name === 'xapi_backup_last_success_timestamp_seconds').length,
      1,
      'no success, no sample',
    )
    assert.equal(value(samples, 'xapi_backup_runs_running'), 1)
  })

  it('escapes label values so they read back as given', () => {
    const text = renderMetrics(input)
    assert.ok(text.includes('job="a \\"quoted\\" \\\\ job\\nwith a line break"'), text)
    const { samples } = parseExposition(text)
    const odd = input.jobs[1]?.job ?? ''
    assert.equal(value(samples, 'xapi_backup_runs_total', { job: odd, status: 'missed' }), 3)
    assert.equal(
      value(samples, 'xapi_backup_vm_last_success_timestamp_seconds', {
        vm: '11111111-1111-4111-8111-111111111111',
        vm_name: 'web "front"\\1',
      }),
      Date.UTC(2026, 0, 2) / 1000,
    )
    assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd')
  })

  it('an empty server still lists every family and the running gauge', () => {
    const { samples, types } = parseExposition(renderMetrics({ jobs: [], vms: [], runningRuns: 0 }))
    assert.equal(types.size, 6)
    assert.deepEqual(samples, [{ name: 'xapi_backup_runs_running', labels: {}, value: 0 }])
  })

  it('the checker itself refuses malformed text', () => {
    assert.throws(() => parseExposition('x{a="b} 1\n'))
    assert.throws(() => parseExposition('# TYPE x counter\n# HELP x h\nx{a="\\t"} 1\n'))
    assert.throws(() => parseExposition('x 1\n'), /TYPE of x/)
    assert.throws(() => parseExposition('# TYPE x gauge\n# HELP x h\nx 1\nx 2\n'), /twice/)
  })
})
