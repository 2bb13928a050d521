// Repository benchmarks: listing a VM folder with many backups on a local remote. "Cold" is a
// listing without cache.json.gz (every metadata file read and validated); "cached" is the normal
// listing with an up-to-date cache (one recursive listing with a stat per file, the cache read and
// validated, no metadata file read). The baseline is the least any listing must do without a cache:
// readdir, then readFile + JSON.parse of every metadata file. All three read from the page cache.
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { openLocalRemote } from '../src/remotes/local/local-remote.ts'
import { metadataPath, vmDir } from '../src/repository/layout.ts'
import { listVmBackups } from '../src/repository/listing.ts'
import { fullMetadata, IDS } from '../src/repository/testing/sample-metadata.ts'
import type { Benchmark } from './harness.ts'
import { timeWithCpu } from './harness.ts'

// 3,000 keeps `npm run bench` under 10 minutes on a loaded machine; BENCHMARKS.md also gives 10,000.
const BACKUPS = Number(process.env.BENCH_BACKUPS ?? 3000)

export const benchmarks: Benchmark[] = [
  {
    name: 'repository.list',
    async setup({ dir }) {
      const t0 = Date.UTC(2020, 0, 1)
      const folder = join(dir, vmDir(IDS.vm))
      await mkdir(folder, { recursive: true })
      for (let i = 0; i < BACKUPS; i++) {
        const metadata = fullMetadata(t0 + i * 3_600_000)
        await writeFile(join(dir, metadataPath(IDS.vm, metadata.timestamp)), JSON.stringify(metadata))
        await writeFile(join(folder, metadata.xva.slice(2)), 'x')
      }
      const remote = await openLocalRemote(dir)
      // Writes the cache, after reading every file once: this is the warm-up (page cache, JIT).
      await listVmBackups(remote, IDS.vm)
      const work = { amount: BACKUPS, unit: 'backups' }
      return {
        sides: {
          cold: {
            name: `listVmBackups without cache, ${BACKUPS} backups`,
            work,
            measure: () =>
              timeWithCpu(async () => {
                const { backups } = await listVmBackups(remote, IDS.vm, { useCache: false })
                if (backups.length !== BACKUPS) throw new Error(`listed ${backups.length} backups`)
              }),
          },
          baseline: {
            name: `readdir + readFile + JSON.parse of every metadata file, ${BACKUPS} backups`,
            work,
            measure: () =>
              timeWithCpu(async () => {
                for (const name of await readdir(folder))
                  if (name.endsWith('.json')) JSON.parse(await readFile(join(folder, name), 'utf8'))
              }),
          },
          cached: {
            name: `listVmBackups with an up-to-date cache, ${BACKUPS} backups`,
            work,
            measure: () =>
              timeWithCpu(async () => {
                const listing = await listVmBackups(remote, IDS.vm)
                if (listing.metadataReads !== 0 || listing.backups.length !== BACKUPS)
                  throw new Error(`cached listing read ${listing.metadataReads} metadata files`)
              }),
          },
        },
        figures: [
          { name: 'repository.list.cold.vs-baseline', subject: 'cold', reference: 'baseline' },
          { name: 'repository.list.cached.vs-baseline', subject: 'cached', reference: 'baseline' },
          { name: 'repository.list.cached.vs-cold', subject: 'cached', reference: 'cold' },
        ],
        warmup: false,
      }
    },
  },
]
