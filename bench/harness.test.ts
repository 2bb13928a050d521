// The harness's pairing and statistics, with sides that report fixed durations (nothing is timed).
// Not under src/ or test/, so `npm test` does not run it: `node --import tsx --test bench/harness.test.ts`.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Benchmark, FigureResult, Session, Side } from './harness.ts'
import { runBenchmarks } from './harness.ts'
import { median, summarize } from './stats.ts'

/** A side returning `seconds[i]` on its i-th call and logging the call in `calls`. */
function scripted(name: string, seconds: number[], calls: string[], extra: Partial<Side> = {}): Side {
  let i = 0
  return {
    name,
    ...extra,
    measure() {
      calls.push(name)
      return Promise.resolve(seconds[i++] ?? NaN)
    },
  }
}

async function run(session: Session, runs: number): Promise<FigureResult[]> {
  const lines: string[] = []
  const benchmark: Benchmark = { name: 'b', setup: () => Promise.resolve(session) }
  await runBenchmarks(
    [benchmark],
    runs,
    (line) => lines.push(line),
    () => undefined,
  )
  return lines.map((line) => JSON.parse(line) as FigureResult)
}

test('median and summarize', () => {
  assert.equal(median([3, 1, 2]), 2)
  assert.equal(median([4, 1, 3, 2]), 2.5)
  assert.deepEqual(summarize([0.123456, 10, 2]), { min: 0.123, median: 2, max: 10 })
})

test('each ratio comes from the pair measured back to back, after an unrecorded warm-up', async () => {
  const calls: string[] = []
  const work = { amount: 100, unit: 'MiB' }
  // Run 0 is the warm-up (its 1000 s must not count); then the reference doubles its time
  // and the subject follows, so every per-run ratio is 0.5 although the medians drift.
  const reference = scripted('ref', [1000, 1, 2, 4, 8, 16], calls, { work })
  const subject = scripted('sub', [1000, 2, 4, 8, 16, 32], calls, { work })
  const [figure] = await run(
    { sides: { reference, subject }, figures: [{ name: 'f', subject: 'subject', reference: 'reference' }] },
    5,
  )
  assert.deepEqual(calls, Array.from({ length: 6 }, () => ['ref', 'sub']).flat())
  assert.ok(figure !== undefined, 'figure !== undefined')
  assert.equal(figure.runs, 5)
  assert.deepEqual(figure.ratio, { min: 0.5, median: 0.5, max: 0.5 })
  assert.equal(figure.subject.median, 12.5) // 100 MiB / 8 s
  assert.equal(figure.subject.unit, 'MiB/s')
  assert.equal(figure.reference.medianSeconds, 4)
  assert.match(figure.ratioMeans, /subject MiB\/s \/ reference MiB\/s/)
})

test('a figure pairs its subject with the nearest measurement of its reference', async () => {
  const calls: string[] = []
  // Sequence r, a, b, r: figure a/r must use the first r (its neighbour), b/r the second.
  const r = scripted('r', [1, 2], calls)
  const a = scripted('a', [3], calls)
  const b = scripted('b', [8], calls)
  const results = await run(
    {
      sides: { r, a, b },
      sequence: ['r', 'a', 'b', 'r'],
      figures: [
        { name: 'a/r', subject: 'a', reference: 'r' },
        { name: 'b/r', subject: 'b', reference: 'r' },
      ],
      warmup: false,
    },
    1,
  )
  assert.deepEqual(calls, ['r', 'a', 'b', 'r'])
  assert.deepEqual(
    results.map((f) => [f.name, f.ratio.median]),
    [
      ['a/r', 3],
      ['b/r', 4],
    ],
  )
})

test('cpuRatio divides CPU times when both sides have them; mixed units are refused before measuring', async () => {
  const cpuSide = (name: string, cpuSeconds: number): Side => ({
    name,
    measure: () => Promise.resolve({ seconds: 1, cpuSeconds }),
  })
  const [cpu] = await run(
    {
      sides: { r: cpuSide('r', 0.1), s: cpuSide('s', 1) },
      figures: [{ name: 'cpu', subject: 's', reference: 'r' }],
      warmup: false,
    },
    5,
  )
  assert.deepEqual(cpu?.ratio, { min: 1, median: 1, max: 1 })
  assert.deepEqual(cpu.cpuRatio, { min: 10, median: 10, max: 10 })
  assert.deepEqual(cpu.subject.cpuSeconds, { min: 1, median: 1, max: 1 })
  // Under two clock ticks, CPU times are not divided.
  const [coarse] = await run(
    {
      sides: { r: cpuSide('r', 0.01), s: cpuSide('s', 1) },
      figures: [{ name: 'coarse', subject: 's', reference: 'r' }],
      warmup: false,
    },
    5,
  )
  assert.equal(coarse?.cpuRatio, undefined)
  const calls: string[] = []
  await assert.rejects(
    run(
      {
        sides: {
          r: scripted('r', [1], calls, { work: { amount: 1, unit: 'MiB' } }),
          s: scripted('s', [1], calls),
        },
        figures: [{ name: 'mixed', subject: 's', reference: 'r' }],
      },
      5,
    ),
    /compares s with MiB\/s/,
  )
  assert.deepEqual(calls, [])
})

test('a side that reports a non-positive or missing duration fails the benchmark', async () => {
  const calls: string[] = []
  await assert.rejects(
    run(pairOf(scripted('r', [1], calls), scripted('s', [0], calls)), 1),
    /expected a positive duration/,
  )
})

function pairOf(reference: Side, subject: Side): Session {
  return {
    sides: { reference, subject },
    figures: [{ name: 'f', subject: 'subject', reference: 'reference' }],
    warmup: false,
  }
}
