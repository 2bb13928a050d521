// Child of the data-plane benchmark (subject side): per job, downloads one export through
// HttpXapiClient (task, HTTP GET, task result), discards the body, and reports the seconds from the
// request to the task's result (processes.ts serveJobs). The login happens once, before any job.
import { HttpXapiClient } from '../../src/xapi/http-xapi-client.ts'
import type { ResourceQuery } from '../../src/xapi/types.ts'
import { serveJobs } from '../processes.ts'

const [url, path, query] = process.argv.slice(2)
const password = process.env.BENCH_XAPI_PASSWORD
if (url === undefined || path === undefined || query === undefined || password === undefined)
  throw new Error('usage: BENCH_XAPI_PASSWORD=… export-drain.ts <url> <path> <query JSON>')
const client = new HttpXapiClient({ url, user: 'root', password })
await client.connect()
try {
  await serveJobs(async () => {
    const start = process.hrtime.bigint()
    const download = await client.getResource(path, JSON.parse(query) as ResourceQuery)
    let bytes = 0
    for await (const chunk of download.body as AsyncIterable<Buffer>) bytes += chunk.length
    await download.result()
    return { seconds: Number(process.hrtime.bigint() - start) / 1e9, bytes }
  })
} finally {
  await client.disconnect()
}
