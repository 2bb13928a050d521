// `npm run bench [-- --runs N] [filter…]`: loads every bench/*.bench.ts and runs the benchmarks whose
// name contains one of the filters (all when none is given), N recorded runs each (default 5).
// stdout: one JSON line describing the machine, then one per figure; progress goes to stderr.
import { readdir } from 'node:fs/promises'
import { availableParallelism, loadavg, totalmem } from 'node:os'
import type { Benchmark } from './harness.ts'
import { runBenchmarks } from './harness.ts'

const DEFAULT_RUNS = 5
const USAGE = 'usage: npm run bench -- [--runs N] [name-filter…]'

function parseArgs(argv: readonly string[]): { runs: number; filters: string[] } {
  let runs = DEFAULT_RUNS
  const filters: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    const inline = /^--runs=(.*)$/.exec(arg)
    if (arg === '--runs' || inline !== null) {
      const text = inline?.[1] ?? argv[++i] ?? ''
      runs = Number(text)
      if (!Number.isInteger(runs) || runs < 1) {
        console.error(`--runs: expected a positive integer, got ${JSON.stringify(text)}\n${USAGE}`)
        process.exit(2)
      }
    } else if (arg.startsWith('-')) {
      console.error(`unknown option ${arg}\n${USAGE}`)
      process.exit(2)
    } else filters.push(arg)
  }
  return { runs, filters }
}

const { runs, filters } = parseArgs(process.argv.slice(2))
if (runs < DEFAULT_RUNS)
  console.error(
    `note: ${runs} run(s): figures from fewer than ${DEFAULT_RUNS} runs are not for BENCHMARKS.md`,
  )
const files = (await readdir(import.meta.dirname)).filter((f) => f.endsWith('.bench.ts')).sort()
const all: Benchmark[] = []
for (const file of files) {
  const module = (await import(new URL(file, import.meta.url).href)) as { benchmarks: Benchmark[] }
  all.push(...module.benchmarks)
}
const selected = all.filter((b) => filters.length === 0 || filters.some((f) => b.name.includes(f)))
if (selected.length === 0) {
  console.error(`no benchmark matches ${filters.join(' ')}; known: ${all.map((b) => b.name).join(', ')}`)
  process.exit(1)
}
const started = process.hrtime.bigint()
console.log(
  JSON.stringify({
    machine: {
      cpus: availableParallelism(),
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      date: new Date().toISOString(),
      load1: Math.round((loadavg()[0] ?? 0) * 100) / 100,
      runs,
    },
  }),
)
await runBenchmarks(
  selected,
  runs,
  (line) => {
    console.log(line)
  },
  (message) => {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    console.error(`[${seconds.toFixed(0).padStart(4)} s] ${message}`)
  },
)
