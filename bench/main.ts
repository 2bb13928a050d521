// `npm run bench [-- filter…]`: loads every bench/*.bench.ts and runs the benchmarks whose name
// contains one of the filters (all when none is given).
import { readdir } from 'node:fs/promises'
import type { Benchmark } from './harness.ts'
import { runBenchmarks } from './harness.ts'

const filters = process.argv.slice(2)
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
await runBenchmarks(selected, (line) => {
  console.log(line)
})
