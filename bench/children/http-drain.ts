// Child of the data-plane benchmark (reference side): per job, GETs a URL with bare node:http,
// discards the body, and reports the seconds from request to last byte (processes.ts serveJobs).
import http from 'node:http'
import { serveJobs } from '../processes.ts'

const url = process.argv[2]
if (url === undefined) throw new Error('usage: http-drain.ts <url>')

function get(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    http
      .get(url as string, (res) => {
        if (res.statusCode !== 200) reject(new Error(`GET ${String(url)}: HTTP ${String(res.statusCode)}`))
        let count = 0
        res.on('data', (chunk: Buffer) => (count += chunk.length))
        res.on('end', () => {
          resolve(count)
        })
        res.on('error', reject)
      })
      .on('error', reject)
  })
}

await serveJobs(async () => {
  const start = process.hrtime.bigint()
  const bytes = await get()
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, bytes }
})
