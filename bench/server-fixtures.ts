// Fixtures of the job server's benchmarks (bench/server.bench.ts): a run history, a local remote
// full of backup metadata, the bare node:http server that answers the same bytes, and sides that
// time a batch of sequential requests and report their p50 and p99 latencies.
import { mkdir, writeFile } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { dirname, join } from 'node:path'
import type { RunRecord } from '../src/daemon/model.ts'
import type { Store } from '../src/daemon/store-port.ts'
import { metadataPath } from '../src/repository/layout.ts'
import { deltaMetadata } from '../src/repository/testing/sample-metadata.ts'
import { mapWithConcurrency } from '../src/shared/async.ts'
import type { Sample, Side } from './harness.ts'
import { timeWithCpu } from './harness.ts'

const HOUR = 3_600_000
const T0 = Date.UTC(2024, 0, 1)

/** A canonical uuid from `prefix` (8 hex digits) and `n` (the last group), for deterministic fixtures. */
export function fixtureUuid(prefix: string, n: number): string {
  return `${prefix}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`
}

/**
 * Inserts `count` finished backup runs of 10 jobs, an hour apart, each naming 3 VMs (one run in
 * ten failed, with a reason): the shape a year of hourly runs leaves in the history.
 */
export function insertRuns(store: Store, count: number): void {
  for (let i = 0; i < count; i++) {
    const failed = i % 10 === 9
    const run: RunRecord = {
      id: fixtureUuid('0000a000', i),
      kind: 'backup',
      jobId: fixtureUuid('0000b000', i % 10),
      scheduleId: fixtureUuid('0000c000', i % 10),
      trigger: i % 50 === 0 ? 'manual' : 'schedule',
      status: failed ? 'failure' : 'success',
      reason: failed ? 'VM web-02: the export stopped: connection reset by peer' : null,
      start: T0 + i * HOUR,
      end: T0 + i * HOUR + 7 * 60_000,
      sizeBytes: 3_221_225_472 + i,
      vms: [0, 1, 2].map((v) => ({
        uuid: fixtureUuid('0000d000', (i % 10) * 3 + v),
        name: `web-0${v + 1}`,
        status: failed && v === 1 ? ('failure' as const) : ('success' as const),
        ...(failed && v === 1 ? { error: 'the export stopped: connection reset by peer' } : {}),
      })),
      params: {},
    }
    store.insertRun(run)
  }
}

/**
 * Writes `vms` × `perVm` delta backups (two disks each) under `remoteDir`, as a backup job leaves
 * them: the metadata, and the two VHDs it names as 1-byte files (the listing stats them, and a
 * backup whose files are all non-empty lists as complete; nothing reads their content).
 */
export async function writeRemoteBackups(remoteDir: string, vms: number, perVm: number): Promise<void> {
  // A few VMs at a time: setup time, not measured, but 30,000 sequential writes take half a minute here.
  await mapWithConcurrency(
    Array.from({ length: vms }, (_, v) => v),
    8,
    async (v) => {
      const vmUuid = fixtureUuid('0000e000', v)
      for (let b = 0; b < perVm; b++) {
        // Distinct timestamps across VMs: the API's newest-first order has no ties to break.
        const sample = deltaMetadata(T0 + b * HOUR + v * 1000)
        const metadata = { ...sample, vm: { ...sample.vm, uuid: vmUuid, name_label: `vm-${v}` } }
        const file = join(remoteDir, metadataPath(vmUuid, metadata.timestamp))
        if (b === 0) await mkdir(dirname(file), { recursive: true })
        await writeFile(file, JSON.stringify(metadata))
        for (const vhd of Object.values(metadata.vhds)) {
          const path = join(dirname(file), vhd)
          if (b === 0) await mkdir(dirname(path), { recursive: true })
          await writeFile(path, 'x')
        }
      }
    },
  )
}

/** A bare node:http server answering GET `path` (with its query) with `bodies[path]` as `contentType`. */
export async function startBareServer(
  bodies: ReadonlyMap<string, Buffer>,
  contentType = 'application/json',
): Promise<{ origin: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const body = bodies.get(req.url ?? '')
    if (body === undefined) res.writeHead(404).end()
    else res.writeHead(200, { 'content-type': contentType, 'content-length': body.length }).end(body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    origin: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve()
        })
      })
    },
  }
}

/**
 * GET `origin + path` with a bearer token (the bare server ignores it) through fetch (undici,
 * keep-alive); returns the body, or throws unless the status is 200 and, when given, the body has
 * `expectedBytes` bytes. The same code serves both sides of every API figure.
 */
export async function getJson(
  origin: string,
  path: string,
  token: string,
  expectedBytes?: number,
): Promise<Buffer> {
  const response = await fetch(origin + path, { headers: { authorization: `Bearer ${token}` } })
  const body = Buffer.from(await response.arrayBuffer())
  if (response.status !== 200)
    throw new Error(`GET ${path}: HTTP ${response.status} ${body.toString().slice(0, 200)}`)
  if (expectedBytes !== undefined && body.length !== expectedBytes)
    throw new Error(`GET ${path}: ${body.length} bytes, expected ${expectedBytes}`)
  return body
}

/** The `p`-quantile (0 < p ≤ 1) of `values` by nearest rank: with fewer than 1/(1-p) values, the max. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] ?? NaN
}

/**
 * Two sides over one batch of `count` sequential calls of `call`: `p50` makes the calls and reports
 * their median latency (with the process's CPU time for the whole batch, client and server, both in
 * this process); `tail` reports the batch's p99, which is its max below 100 calls (its name says
 * which). `tail` does no work: it must follow `p50` in a run's sequence.
 */
export function latencySides(
  name: string,
  count: number,
  call: () => Promise<unknown>,
  /** Runs before each request, outside its time (e.g. dropping a server-side cache). */
  before?: () => Promise<unknown>,
): { p50: Side; tail: Side } {
  let last: number[] | undefined
  return {
    p50: {
      name: `${name}: p50 of ${count} sequential requests (CPU: the whole batch)`,
      timeUnit: 'ms',
      async measure(): Promise<Sample> {
        const latencies: number[] = []
        const batch = await timeWithCpu(async () => {
          for (let i = 0; i < count; i++) {
            await before?.()
            const start = process.hrtime.bigint()
            await call()
            latencies.push(Number(process.hrtime.bigint() - start) / 1e9)
          }
        })
        last = latencies
        return { ...batch, seconds: percentile(latencies, 0.5) }
      },
    },
    tail: {
      name: `${name}: ${count >= 100 ? 'p99' : 'max'} of the same ${count} requests`,
      timeUnit: 'ms',
      measure() {
        if (last === undefined)
          return Promise.reject(new Error(`${name}: tail latency measured before its batch`))
        const value = percentile(last, 0.99)
        last = undefined
        return Promise.resolve(value)
      },
    },
  }
}
