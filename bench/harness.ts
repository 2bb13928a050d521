// The benchmark harness: every figure is a ratio against a reference measured in the same run,
// because these shared 2-core machines make absolute timings noisy (BENCHMARKS.md).
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A measured reference: what the figure is compared with. */
export interface Reference {
  readonly name: string
  readonly value: number
  readonly unit: string
}

/** One printed figure; `ratio` is value / reference.value (so > 1 means faster for rates). */
export interface Figure {
  readonly name: string
  readonly value: number
  readonly unit: string
  readonly reference: Reference
  readonly ratio: number
}

/** What a benchmark gets: a scratch directory removed after the run, and the figure printer. */
export interface BenchContext {
  readonly dir: string
  readonly report: (figure: Omit<Figure, 'ratio'>) => void
}

/** A named benchmark; files named `bench/*.bench.ts` export an array `benchmarks` of them. */
export interface Benchmark {
  readonly name: string
  run(context: BenchContext): Promise<void>
}

/** Runs `fn` and returns its wall time in seconds (high-resolution). */
export async function timeSeconds(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint()
  await fn()
  return Number(process.hrtime.bigint() - start) / 1e9
}

/** Runs each benchmark in its own scratch directory and prints one JSON line per figure. */
export async function runBenchmarks(benchmarks: readonly Benchmark[], print: (line: string) => void) {
  for (const benchmark of benchmarks) {
    const dir = await mkdtemp(join(process.env.BENCH_DIR ?? tmpdir(), `xapi-backup-bench-`))
    try {
      await benchmark.run({
        dir,
        report(figure) {
          const ratio = figure.reference.value === 0 ? 0 : figure.value / figure.reference.value
          print(JSON.stringify({ ...figure, ratio: Math.round(ratio * 1000) / 1000 }))
        },
      })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }
}
