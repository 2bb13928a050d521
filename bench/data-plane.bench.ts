// Data-plane benchmarks (issues 5, 7): the simulator's GET /export (XVA) and /export_raw_vdi (raw,
// vhd) downloaded through HttpXapiClient, against a bare node:http server streaming the same file
// (the simulator's block file) to a bare node:http client: the same bytes from the same page cache
// over the same loopback, without XAPI, formats or our client. The servers run in this process; each
// side's downloads run in a child process of their own (one per side, kept for all runs) that times
// only the transfer and reports its peak RSS: what export streams cost the client in memory.
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { startSimulator } from '../src/simulator/index.ts'
import type { PoolDescription } from '../src/simulator/index.ts'
import type { Benchmark, Side } from './harness.ts'
import { startChildWorker } from './processes.ts'
import type { ChildWorker } from './processes.ts'

const MiB = 2 ** 20
const DISK_BYTES = Number(process.env.BENCH_EXPORT_MIB ?? 64) * MiB
// The simulator reads its block file 2 MiB at a time; the bare server reads with the same size.
const READ_BYTES = 2 * MiB

const POOL: PoolDescription = {
  hosts: [{ name: 'bench-host' }],
  srs: [{ name: 'Local', sizeBytes: 1024 * 1024 * MiB }],
  networks: [],
  vms: [{ name: 'bench-vm', powerState: 'Halted', disks: [{ sizeBytes: DISK_BYTES }] }],
  defaultSr: 'Local',
}

/** A bare node:http server answering every GET with the bytes of `file`. */
async function startFileServer(file: string): Promise<{ url: string; close(): Promise<void> }> {
  const { size } = await stat(file)
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size })
    createReadStream(file, { highWaterMark: READ_BYTES }).pipe(res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/blocks.bin`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => {
          resolve()
        })
      }),
  }
}

/** A side whose child worker downloads `expectBytes` or more per request (the rate is per byte). */
function download(name: string, expectBytes: number, worker: ChildWorker): Side {
  return {
    name,
    work: { amount: expectBytes / MiB, unit: 'MiB' },
    async measure() {
      // The server side of the transfer runs in this process: its CPU time adds to the child's.
      const cpu = process.cpuUsage()
      const report = await worker.request()
      const server = process.cpuUsage(cpu)
      // Rates are computed for expectBytes: a short download must fail, not look fast.
      if (report.bytes === undefined || report.bytes < expectBytes)
        throw new Error(`${name}: received ${String(report.bytes)} bytes, expected at least ${expectBytes}`)
      const scale = expectBytes / report.bytes
      return {
        seconds: report.seconds * scale,
        cpuSeconds: (report.cpuSeconds + (server.user + server.system) / 1e6) * scale,
        peakRssBytes: report.peakRssBytes,
      }
    },
  }
}

export const benchmarks: Benchmark[] = [
  {
    name: 'data-plane.exports',
    async setup({ dir }) {
      const sim = await startSimulator({ pool: POOL, dataDir: dir })
      const vm = sim.pool.vms.get('bench-vm') ?? ''
      const vdi = sim.db.get('VBD', (sim.db.get('VM', vm).VBDs as string[])[0] ?? '').VDI as string
      const block = randomBytes(2 * MiB)
      for (let offset = 0; offset < DISK_BYTES; offset += block.length)
        sim.storage.writeBlocks(vdi, [{ offsetBytes: offset, data: block }])
      const blocksFile = join(dir, 'blocks.bin')
      const fileServer = await startFileServer(blocksFile)
      const env = { BENCH_XAPI_PASSWORD: sim.password }
      const workers: ChildWorker[] = []
      const worker = (script: string, args: string[], extra: Record<string, string> = {}): ChildWorker => {
        const started = startChildWorker(script, args, extra)
        workers.push(started)
        return started
      }
      const exportSide = (name: string, path: string, query: Record<string, string>): Side =>
        download(
          `${name} through HttpXapiClient, from the simulator`,
          DISK_BYTES,
          worker('export-drain.ts', [sim.url, path, JSON.stringify(query)], env),
        )
      const mib = DISK_BYTES / MiB
      return {
        sides: {
          bare: download(
            `bare node:http GET of the simulator's block file (${mib} MiB), body discarded`,
            DISK_BYTES,
            worker('http-drain.ts', [fileServer.url]),
          ),
          xva: exportSide('GET /export (XVA, uncompressed)', '/export', { ref: vm }),
          raw: exportSide('GET /export_raw_vdi?format=raw', '/export_raw_vdi', { vdi, format: 'raw' }),
          vhd: exportSide('GET /export_raw_vdi?format=vhd', '/export_raw_vdi', { vdi, format: 'vhd' }),
        },
        figures: [
          { name: `data-plane.export-xva.${mib}MiB`, subject: 'xva', reference: 'bare' },
          { name: `data-plane.export-raw.${mib}MiB`, subject: 'raw', reference: 'bare' },
          { name: `data-plane.export-vhd.${mib}MiB`, subject: 'vhd', reference: 'bare' },
        ],
        // Each export next to a bare download: [xva, bare] [raw … bare] [vhd, bare].
        sequence: ['xva', 'bare', 'raw', 'vhd', 'bare'],
        async close() {
          for (const started of workers) await started.close()
          await fileServer.close()
          await sim.close()
        },
      }
    },
  },
]
