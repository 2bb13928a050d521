// Data-plane benchmarks (issue 5): the simulator's GET /export (XVA) and /export_raw_vdi (raw, vhd)
// throughput through the XAPI client, against dd piping the same bytes into a second dd (the
// simulator's block file, warm in the page cache like the export's reads). Best of 3, ours and dd alternating.
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { startSimulator } from '../src/simulator/index.ts'
import type { PoolDescription } from '../src/simulator/index.ts'
import { HttpXapiClient } from '../src/xapi/http-xapi-client.ts'
import type { ResourceQuery } from '../src/xapi/types.ts'
import type { Benchmark } from './harness.ts'
import { timeSeconds } from './harness.ts'

const MiB = 2 ** 20
const DISK_BYTES = 256 * MiB
const ROUNDS = 3

const POOL: PoolDescription = {
  hosts: [{ name: 'bench-host' }],
  srs: [{ name: 'Local', sizeBytes: 1024 * 1024 * MiB }],
  networks: [],
  vms: [{ name: 'bench-vm', powerState: 'Halted', disks: [{ sizeBytes: DISK_BYTES }] }],
  defaultSr: 'Local',
}

// dd into a pipe read by a second dd: the bytes cross a process boundary, as an HTTP download does.
function ddRead(path: string): void {
  const result = spawnSync('sh', [
    '-c',
    `dd if='${path}' bs=2M status=none | dd of=/dev/null bs=2M status=none`,
  ])
  if (result.status !== 0) throw new Error(`dd failed: ${String(result.stderr)}`)
}

async function drain(client: HttpXapiClient, path: string, query: ResourceQuery): Promise<number> {
  const download = await client.getResource(path, query)
  let bytes = 0
  for await (const chunk of download.body as AsyncIterable<Buffer>) bytes += chunk.length
  await download.result()
  return bytes
}

export const benchmarks: Benchmark[] = [
  {
    name: 'data-plane: simulator exports vs dd',
    async run({ dir, report }) {
      const sim = await startSimulator({ pool: POOL, dataDir: dir })
      const client = new HttpXapiClient({ url: sim.url, user: sim.username, password: sim.password })
      try {
        await client.connect()
        const vm = sim.pool.vms.get('bench-vm') ?? ''
        const vdi = sim.db.get('VBD', (sim.db.get('VM', vm).VBDs as string[])[0] ?? '').VDI as string
        const block = randomBytes(2 * MiB)
        for (let offset = 0; offset < DISK_BYTES; offset += block.length)
          sim.storage.writeBlocks(vdi, [{ offsetBytes: offset, data: block }])
        const cases: [string, string, ResourceQuery][] = [
          ['GET /export (XVA, uncompressed)', '/export', { ref: vm }],
          ['GET /export_raw_vdi?format=raw', '/export_raw_vdi', { vdi, format: 'raw' }],
          ['GET /export_raw_vdi?format=vhd', '/export_raw_vdi', { vdi, format: 'vhd' }],
        ]
        for (const [name, path, query] of cases) {
          let ours = Infinity
          let dd = Infinity
          let bytes = 0
          for (let round = 0; round < ROUNDS; round++) {
            ours = Math.min(ours, await timeSeconds(async () => (bytes = await drain(client, path, query))))
            dd = Math.min(
              dd,
              await timeSeconds(async () => {
                ddRead(join(dir, 'blocks.bin'))
                await Promise.resolve()
              }),
            )
          }
          report({
            name: `${name}, ${DISK_BYTES / MiB} MiB disk`,
            value: Math.round(bytes / MiB / ours),
            unit: 'MiB/s',
            reference: {
              name: 'dd bs=2M | dd of the simulator block file (same bytes)',
              value: Math.round(DISK_BYTES / MiB / dd),
              unit: 'MiB/s',
            },
          })
        }
      } finally {
        await client.disconnect()
        await sim.close()
      }
    },
  },
]
