// Repository benchmarks: listing a VM with many backups, cold (every metadata file read) and
// cached (one listing + cache.json.gz), against plain reads of the same files.
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { openLocalRemote } from '../src/remotes/local/local-remote.ts'
import { metadataPath, vmDir } from '../src/repository/layout.ts'
import { listVmBackups } from '../src/repository/listing.ts'
import { fullMetadata, IDS } from '../src/repository/testing/sample-metadata.ts'
import type { Benchmark } from './harness.ts'
import { timeSeconds } from './harness.ts'

const BACKUPS = 10_000

export const benchmarks: Benchmark[] = [
  {
    name: 'repository.list',
    async run({ dir, report }) {
      const t0 = Date.UTC(2020, 0, 1)
      await mkdir(join(dir, vmDir(IDS.vm)), { recursive: true })
      for (let i = 0; i < BACKUPS; i++) {
        const metadata = fullMetadata(t0 + i * 3_600_000)
        await writeFile(join(dir, metadataPath(IDS.vm, metadata.timestamp)), JSON.stringify(metadata))
        await writeFile(join(dir, vmDir(IDS.vm), metadata.xva.slice(2)), 'x')
      }
      const remote = await openLocalRemote(dir)
      let listed = 0
      const coldSeconds = await timeSeconds(async () => {
        listed = (await listVmBackups(remote, IDS.vm, { useCache: false })).backups.length
      })
      if (listed !== BACKUPS) throw new Error(`listed ${listed} backups, expected ${BACKUPS}`)
      await listVmBackups(remote, IDS.vm) // writes the cache
      let reads = -1
      const cachedSeconds = await timeSeconds(async () => {
        reads = (await listVmBackups(remote, IDS.vm)).metadataReads
      })
      if (reads !== 0) throw new Error(`cached listing read ${reads} metadata files`)
      const readAllSeconds = await timeSeconds(async () => {
        const folder = join(dir, vmDir(IDS.vm))
        for (const name of await readdir(folder))
          if (name.endsWith('.json')) JSON.parse(await readFile(join(folder, name), 'utf8'))
      })
      const readdirSeconds = await timeSeconds(() => readdir(join(dir, vmDir(IDS.vm))))
      const rate = (s: number): number => Math.round(BACKUPS / s)
      report({
        name: 'repository.list.cold-backups-per-second',
        value: rate(coldSeconds),
        unit: 'backups/s',
        reference: {
          name: 'readdir + readFile + JSON.parse of every metadata file',
          value: rate(readAllSeconds),
          unit: 'backups/s',
        },
      })
      report({
        name: 'repository.list.cached-backups-per-second',
        value: rate(cachedSeconds),
        unit: 'backups/s',
        reference: { name: 'the same cold listing', value: rate(coldSeconds), unit: 'backups/s' },
      })
      report({
        name: 'repository.list.cached-vs-readdir',
        value: rate(cachedSeconds),
        unit: 'backups/s',
        reference: { name: 'one readdir of the VM folder', value: rate(readdirSeconds), unit: 'backups/s' },
      })
    },
  },
]
