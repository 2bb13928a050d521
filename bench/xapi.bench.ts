// XAPI client benchmarks against the in-process simulator. Each figure is compared with a bare
// node:http exchange of the same shape (same body, same answer, keep-alive), so the ratio shows the
// client's (and the simulator's) overhead rather than the machine's speed.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { startSimulator } from '../src/simulator/index.ts'
import type { RunningSimulator } from '../src/simulator/index.ts'
import { HttpXapiClient } from '../src/xapi/http-xapi-client.ts'
import type { Benchmark, Side } from './harness.ts'
import { timeWithCpu } from './harness.ts'
import { median } from './stats.ts'

// Calls per measurement, and event round trips per measurement (the harness repeats them N times).
const CALLS = 500
const EVENT_ROUNDS = 40

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

/** A side making `CALLS` sequential calls of `call`. */
function calls(name: string, call: () => Promise<unknown>): Side {
  return {
    name,
    work: { amount: CALLS, unit: 'calls' },
    measure: () =>
      timeWithCpu(async () => {
        for (let i = 0; i < CALLS; i++) await call()
      }),
  }
}

/** A simulator and a JSON-RPC client logged in to it (the session's `close` ends both). */
async function simulatorSession(): Promise<{ sim: RunningSimulator; client: HttpXapiClient }> {
  const sim = await startSimulator()
  const client = new HttpXapiClient({
    url: sim.url,
    user: sim.username,
    password: sim.password,
    transport: 'json-rpc',
  })
  await client.connect()
  return { sim, client }
}

export const benchmarks: Benchmark[] = [
  {
    name: 'xapi.vm-get-record',
    async setup() {
      const { sim, client } = await simulatorSession()
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
      // The client alone: the same calls answered by the trivial server instead of the simulator.
      const alone = new HttpXapiClient({
        url: bare.url.origin,
        user: 'u',
        password: 'p',
        transport: 'json-rpc',
      })
      await alone.connect()
      return {
        sides: {
          alone: calls('HttpXapiClient.getRecord(VM) against the trivial server', () =>
            alone.getRecord('VM', vm),
          ),
          bare: calls('bare node:http POST of the same body to a trivial server (same answer)', () =>
            barePost(bare.url, agent, request),
          ),
          client: calls('HttpXapiClient.getRecord(VM) against the simulator', () =>
            client.getRecord('VM', vm),
          ),
        },
        figures: [
          { name: 'xapi.vm-get-record.client-alone', subject: 'alone', reference: 'bare' },
          { name: 'xapi.vm-get-record.client-and-simulator', subject: 'client', reference: 'bare' },
        ],
        async close() {
          await alone.disconnect()
          agent.destroy()
          await bare.close()
          await client.disconnect()
          await sim.close()
        },
      }
    },
  },
  {
    name: 'xapi.event-latency',
    async setup() {
      const { sim, client } = await simulatorSession()
      const vm = [...sim.pool.vms.values()][0] ?? ''
      const bare = await startBareServer('""')
      const agent = new http.Agent({ keepAlive: true })
      const mutator = new HttpXapiClient({
        url: sim.url,
        user: sim.username,
        password: sim.password,
        transport: 'json-rpc',
      })
      let { token } = await client.eventFrom(['VM'], '', 0.1)
      let key = 0
      return {
        sides: {
          event: {
            name: `mutation call sent → event.from answered (median of ${EVENT_ROUNDS})`,
            timeUnit: 'ms',
            async measure() {
              const latencies: number[] = []
              for (let i = 0; i < EVENT_ROUNDS; i++) {
                const name = `bench-${key++}`
                const woken = client.eventFrom(['VM'], token, 30)
                // Let the event.from reach the server and block there before mutating.
                await new Promise((resolve) => setTimeout(resolve, 2))
                const start = process.hrtime.bigint()
                await mutator.call('VM.add_to_other_config', [vm, name, 'x'])
                token = (await woken).token
                latencies.push(Number(process.hrtime.bigint() - start) / 1e9)
                await mutator.call('VM.remove_from_other_config', [vm, name])
                token = (await client.eventFrom(['VM'], token, 0.1)).token
              }
              return median(latencies)
            },
          },
          bare: {
            name: `bare node:http round trip (median of ${EVENT_ROUNDS})`,
            timeUnit: 'ms',
            async measure() {
              const trips: number[] = []
              for (let i = 0; i < EVENT_ROUNDS; i++) {
                const start = process.hrtime.bigint()
                await barePost(bare.url, agent, '{"jsonrpc":"2.0","method":"x","params":[],"id":1}')
                trips.push(Number(process.hrtime.bigint() - start) / 1e9)
              }
              return median(trips)
            },
          },
        },
        figures: [{ name: 'xapi.event-latency', subject: 'event', reference: 'bare' }],
        async close() {
          await mutator.disconnect()
          agent.destroy()
          await bare.close()
          await client.disconnect()
          await sim.close()
        },
      }
    },
  },
]
