// XAPI client benchmarks against the in-process simulator. Each figure is compared with a bare
// node:http exchange of the same shape in the same run, so the ratio shows the client's (and the
// simulator's) overhead rather than the machine's speed.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { startSimulator } from '../src/simulator/index.ts'
import type { RunningSimulator } from '../src/simulator/index.ts'
import { HttpXapiClient } from '../src/xapi/http-xapi-client.ts'
import type { Benchmark, Figure } from './harness.ts'
import { timeSeconds } from './harness.ts'

const CALLS = 3000
const ROUNDS = 10
const EVENT_ROUNDS = 200

/** A trivial JSON-RPC server: answers every POST with `result` (a login with a session ref), echoing the id. */
async function startBareServer(result: string): Promise<{ url: URL; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('latin1')
      const id = /"id":(\d+)/.exec(body)?.[1] ?? '0'
      const value = body.includes('session.login_with_password') ? '"OpaqueRef:bench-session"' : result
      const answer = `{"jsonrpc":"2.0","result":${value},"id":${id}}`
      res
        .writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) })
        .end(answer)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: new URL(`http://127.0.0.1:${port}/jsonrpc`),
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve()
        }),
      )
    },
  }
}

/** One bare POST of `body` with a keep-alive agent, reading the whole answer. */
function barePost(url: URL, agent: http.Agent, body: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume()
        res.on('end', resolve)
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? 0
}

/**
 * Runs each loop CALLS times in interleaved rounds (the first a warm-up), so load from other
 * processes on this shared machine hits all of them alike; returns seconds per loop.
 */
async function interleaved<K extends string>(
  loops: Record<K, () => Promise<unknown>>,
): Promise<Record<K, number>> {
  const keys = Object.keys(loops) as K[]
  const seconds = Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>
  for (let round = 0; round <= ROUNDS; round++) {
    for (const key of keys) {
      const elapsed = await timeSeconds(async () => {
        for (let i = 0; i < CALLS / ROUNDS; i++) await loops[key]()
      })
      if (round > 0) seconds[key] += elapsed
    }
  }
  return seconds
}

function rateFigure(name: string, seconds: number, bareSeconds: number): Omit<Figure, 'ratio'> {
  return {
    name,
    value: Math.round(CALLS / seconds),
    unit: 'calls/s',
    reference: {
      name: 'bare node:http POST of the same body to a trivial server',
      value: Math.round(CALLS / bareSeconds),
      unit: 'calls/s',
    },
  }
}

async function withSimulator(
  fn: (sim: RunningSimulator, client: HttpXapiClient) => Promise<void>,
): Promise<void> {
  const sim = await startSimulator()
  const client = new HttpXapiClient({
    url: sim.url,
    user: sim.username,
    password: sim.password,
    transport: 'json-rpc',
  })
  try {
    await client.connect()
    await fn(sim, client)
  } finally {
    await client.disconnect()
    await sim.close()
  }
}

export const benchmarks: Benchmark[] = [
  {
    name: 'xapi.vm-get-record',
    run: ({ report }) =>
      withSimulator(async (sim, client) => {
        const vm = [...sim.pool.vms.values()][0] ?? ''
        const record = await client.call('VM.get_record', [vm])
        // The reference sends the same request body and gets the same record back.
        const request = JSON.stringify({
          jsonrpc: '2.0',
          method: 'VM.get_record',
          params: ['OpaqueRef:session', vm],
          id: 1,
        })
        const bare = await startBareServer(JSON.stringify(record))
        const agent = new http.Agent({ keepAlive: true })
        try {
          // The client alone: the same calls answered by the trivial server instead of the simulator.
          const alone = new HttpXapiClient({
            url: bare.url.origin,
            user: 'u',
            password: 'p',
            transport: 'json-rpc',
          })
          await alone.connect()
          const seconds = await interleaved({
            client: () => client.getRecord('VM', vm),
            bare: () => barePost(bare.url, agent, request),
            alone: () => alone.getRecord('VM', vm),
          })
          await alone.disconnect()
          report(
            rateFigure(
              'xapi.vm-get-record.json-rpc.client-alone.calls-per-second',
              seconds.alone,
              seconds.bare,
            ),
          )
          report(rateFigure('xapi.vm-get-record.json-rpc.calls-per-second', seconds.client, seconds.bare))
        } finally {
          agent.destroy()
          await bare.close()
        }
      }),
  },
  {
    name: 'xapi.event-latency',
    run: ({ report }) =>
      withSimulator(async (sim, client) => {
        const vm = [...sim.pool.vms.values()][0] ?? ''
        const bare = await startBareServer('""')
        const agent = new http.Agent({ keepAlive: true })
        const mutator = new HttpXapiClient({
          url: sim.url,
          user: sim.username,
          password: sim.password,
          transport: 'json-rpc',
        })
        try {
          let { token } = await client.eventFrom(['VM'], '', 0.1)
          const latencies: number[] = []
          const roundTrips: number[] = []
          for (let i = 0; i < EVENT_ROUNDS; i++) {
            const woken = client.eventFrom(['VM'], token, 30)
            // Let the event.from reach the server and block there before mutating.
            await new Promise((resolve) => setTimeout(resolve, 2))
            const start = process.hrtime.bigint()
            await mutator.call('VM.add_to_other_config', [vm, `bench-${i}`, 'x'])
            const batch = await woken
            latencies.push(Number(process.hrtime.bigint() - start) / 1e6)
            token = batch.token
            await mutator.call('VM.remove_from_other_config', [vm, `bench-${i}`])
            token = (await client.eventFrom(['VM'], token, 0.1)).token
            const t0 = process.hrtime.bigint()
            await barePost(bare.url, agent, '{"jsonrpc":"2.0","method":"x","params":[],"id":1}')
            roundTrips.push(Number(process.hrtime.bigint() - t0) / 1e6)
          }
          report({
            name: 'xapi.event-latency.mutation-to-event-from-ms',
            value: Math.round(median(latencies) * 1000) / 1000,
            unit: 'ms (median; mutation call sent → event.from answered)',
            reference: {
              name: 'bare node:http round trip (median)',
              value: Math.round(median(roundTrips) * 1000) / 1000,
              unit: 'ms',
            },
          })
        } finally {
          await mutator.disconnect()
          agent.destroy()
          await bare.close()
        }
      }),
  },
]
