// The benchmark harness. These shared 2-core machines make absolute timings swing by 2–3× from one
// minute to the next, so every figure is a ratio between a subject and a reference that do the same
// work, measured back to back in each of N runs (N ≥ 5): a load change hits both sides of a pair,
// and min/median/max of the N ratios show how stable the figure is (BENCHMARKS.md).
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { summarize } from './stats.ts'
import type { Summary } from './stats.ts'

/** One measurement of one side: the seconds its work took, and what a child process saw. */
export interface Sample {
  readonly seconds: number
  /** Peak RSS of the child process that did the work, when it ran in one (bytes). */
  readonly peakRssBytes?: number
  /** CPU time (user + system) of the child process that did the work, when known (seconds). */
  readonly cpuSeconds?: number
}

/**
 * One side of a comparison. `measure` does the work once (setup and cleanup it needs go outside
 * its own timing) and returns the seconds the work took. With `work`, the side's value is the rate
 * `work.amount / seconds` in `${work.unit}/s`; without it, the value is the time in `timeUnit`.
 */
export interface Side {
  readonly name: string
  readonly work?: { readonly amount: number; readonly unit: string }
  readonly timeUnit?: 's' | 'ms'
  measure(): Promise<number | Sample>
}

/** A printed figure: `subject`'s value divided by `reference`'s (keys of the session's sides). */
export interface FigureSpec {
  readonly name: string
  readonly subject: string
  readonly reference: string
}

/** What a benchmark measures: its sides, the figures comparing them, and the order of a run. */
export interface Session {
  readonly sides: Readonly<Record<string, Side>>
  readonly figures: readonly FigureSpec[]
  /**
   * The sides measured in one run, in order (default: as declared). A key may repeat so that each
   * subject sits next to its reference; a figure pairs its subject with the nearest measurement of
   * its reference in the same run (the earlier one on a tie).
   */
  readonly sequence?: readonly string[]
  /** Whether one unrecorded run precedes the N recorded ones (JIT, page cache); default true. */
  readonly warmup?: boolean
  close?(): Promise<void>
}

/** What a benchmark's setup gets: a scratch directory (removed afterwards) and the run count. */
export interface BenchContext {
  readonly dir: string
  readonly runs: number
  /** Progress and notes for the person running the bench (stderr, not part of the JSON). */
  readonly log: (message: string) => void
}

/** A named benchmark; files named `bench/*.bench.ts` export an array `benchmarks` of them. */
export interface Benchmark {
  readonly name: string
  setup(context: BenchContext): Promise<Session>
}

/** One side's figures over the runs: median value and seconds, and child-process medians. */
export interface SideSummary {
  readonly name: string
  readonly median: number
  readonly unit: string
  readonly medianSeconds: number
  readonly peakRssMiB?: Summary
  readonly cpuSeconds?: Summary
}

/** One printed JSON line. */
export interface FigureResult {
  readonly name: string
  readonly benchmark: string
  readonly runs: number
  /** subject value / reference value of each run; see `ratioMeans` for the direction. */
  readonly ratio: Summary
  readonly ratioMeans: string
  readonly subject: SideSummary
  readonly reference: SideSummary
  /**
   * The same ratio computed from CPU time (user + system) instead of wall time, when every sample
   * of both sides carries one of at least MIN_CPU_SECONDS: on a machine whose cores are shared,
   * CPU time moves much less than wall time, but it does not see time spent waiting (fsync, disk).
   */
  readonly cpuRatio?: Summary
  /** One-minute load average before and after the benchmark's runs (2 cores: > 2 is loaded). */
  readonly load1: readonly [number, number]
}

// CPU times from /proc tick at 10 ms: below this, a ratio of CPU times says nothing.
const MIN_CPU_SECONDS = 0.02

/** Runs `fn` and returns its wall time in seconds (high-resolution). */
export async function timeSeconds(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint()
  await fn()
  return Number(process.hrtime.bigint() - start) / 1e9
}

/**
 * Runs `fn` and returns its wall time and this process's CPU time meanwhile (everything the process
 * did then, including in-process servers the work talks to), for work done in this process.
 */
export async function timeWithCpu(fn: () => Promise<unknown>): Promise<Sample> {
  const cpu = process.cpuUsage()
  const seconds = await timeSeconds(fn)
  const used = process.cpuUsage(cpu)
  return { seconds, cpuSeconds: (used.user + used.system) / 1e6 }
}

/** A session with one figure comparing `subject` with `reference`. */
export function pair(name: string, reference: Side, subject: Side): Session {
  return { sides: { reference, subject }, figures: [{ name, subject: 'subject', reference: 'reference' }] }
}

function unitOf(side: Side): string {
  return side.work === undefined ? (side.timeUnit ?? 's') : `${side.work.unit}/s`
}

function valueOf(side: Side, seconds: number): number {
  if (side.work !== undefined) return side.work.amount / seconds
  return side.timeUnit === 'ms' ? seconds * 1000 : seconds
}

function toSample(measured: number | Sample): Sample {
  const sample = typeof measured === 'number' ? { seconds: measured } : measured
  if (!(sample.seconds > 0) || !Number.isFinite(sample.seconds))
    throw new Error(`a side measured ${sample.seconds} s: expected a positive duration`)
  return sample
}

/** Checks the figures against the sides and sequence before anything is measured. */
function checkSession(benchmark: string, session: Session, sequence: readonly string[]): void {
  for (const key of sequence)
    if (session.sides[key] === undefined) throw new Error(`${benchmark}: sequence names unknown side ${key}`)
  for (const figure of session.figures) {
    const subject = session.sides[figure.subject]
    const reference = session.sides[figure.reference]
    if (subject === undefined || reference === undefined)
      throw new Error(`${benchmark}: figure ${figure.name} names an unknown side`)
    if (!sequence.includes(figure.subject) || !sequence.includes(figure.reference))
      throw new Error(`${benchmark}: figure ${figure.name} has a side outside the sequence`)
    if (unitOf(subject) !== unitOf(reference))
      throw new Error(`${benchmark}: ${figure.name} compares ${unitOf(subject)} with ${unitOf(reference)}`)
  }
}

/** The position in `sequence` of the `key` measurement nearest to `position` (earlier on a tie). */
function nearest(sequence: readonly string[], key: string, position: number): number {
  let best = -1
  sequence.forEach((k, i) => {
    if (k === key && (best < 0 || Math.abs(i - position) < Math.abs(best - position))) best = i
  })
  return best
}

function sideSummary(side: Side, samples: readonly Sample[]): SideSummary {
  const seconds = summarize(samples.map((s) => s.seconds))
  const rss = samples.flatMap((s) => (s.peakRssBytes === undefined ? [] : [s.peakRssBytes / 2 ** 20]))
  const cpu = samples.flatMap((s) => (s.cpuSeconds === undefined ? [] : [s.cpuSeconds]))
  return {
    name: side.name,
    median: summarize(samples.map((s) => valueOf(side, s.seconds))).median,
    unit: unitOf(side),
    medianSeconds: seconds.median,
    ...(rss.length === 0 ? {} : { peakRssMiB: summarize(rss) }),
    ...(cpu.length === 0 ? {} : { cpuSeconds: summarize(cpu) }),
  }
}

async function measureRuns(
  name: string,
  session: Session,
  runs: number,
  log: (message: string) => void,
): Promise<Sample[][]> {
  const sequence = session.sequence ?? Object.keys(session.sides)
  checkSession(name, session, sequence)
  const recorded: Sample[][] = []
  const first = session.warmup === false ? 1 : 0
  for (let run = first; run <= runs; run++) {
    log(`${name}: ${run === 0 ? 'warm-up run' : `run ${run}/${runs}`}`)
    const samples: Sample[] = []
    for (const key of sequence) samples.push(toSample(await (session.sides[key] as Side).measure()))
    if (run > 0) recorded.push(samples)
  }
  return recorded
}

function figureResults(
  benchmark: string,
  session: Session,
  recorded: readonly Sample[][],
  load1: readonly [number, number],
): FigureResult[] {
  const sequence = session.sequence ?? Object.keys(session.sides)
  return session.figures.map((figure) => {
    const subject = session.sides[figure.subject] as Side
    const reference = session.sides[figure.reference] as Side
    const at = sequence.indexOf(figure.subject)
    const refAt = nearest(sequence, figure.reference, at)
    const subjectSamples = recorded.map((samples) => samples[at] as Sample)
    const referenceSamples = recorded.map((samples) => samples[refAt] as Sample)
    const ratios = (seconds: (sample: Sample) => number): number[] =>
      subjectSamples.map(
        (s, i) => valueOf(subject, seconds(s)) / valueOf(reference, seconds(referenceSamples[i] as Sample)),
      )
    const cpuKnown = [...subjectSamples, ...referenceSamples].every(
      (s) => s.cpuSeconds !== undefined && s.cpuSeconds >= MIN_CPU_SECONDS,
    )
    const unit = unitOf(subject)
    return {
      name: figure.name,
      benchmark,
      runs: recorded.length,
      ratio: summarize(ratios((s) => s.seconds)),
      ...(cpuKnown ? { cpuRatio: summarize(ratios((s) => s.cpuSeconds as number)) } : {}),
      ratioMeans:
        subject.work === undefined
          ? `subject time / reference time (< 1: subject faster)`
          : `subject ${unit} / reference ${unit} (> 1: subject faster)`,
      subject: sideSummary(subject, subjectSamples),
      reference: sideSummary(reference, referenceSamples),
      load1,
    }
  })
}

/** Runs each benchmark `runs` times in its own scratch directory; prints one JSON line per figure. */
export async function runBenchmarks(
  benchmarks: readonly Benchmark[],
  runs: number,
  print: (line: string) => void,
  log: (message: string) => void,
): Promise<void> {
  for (const benchmark of benchmarks) {
    const dir = await mkdtemp(join(process.env.BENCH_DIR ?? tmpdir(), `xapi-backup-bench-`))
    try {
      log(`${benchmark.name}: setting up`)
      const session = await benchmark.setup({ dir, runs, log })
      try {
        const before = loadavg()[0] ?? 0
        const recorded = await measureRuns(benchmark.name, session, runs, log)
        const load1 = [before, loadavg()[0] ?? 0].map((x) => Math.round(x * 100) / 100) as [number, number]
        for (const result of figureResults(benchmark.name, session, recorded, load1))
          print(JSON.stringify(result))
      } finally {
        await session.close?.()
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }
}
