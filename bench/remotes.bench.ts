// Remote benchmarks: the local remote's atomic write against dd of the same bytes to the same
// directory, and S3 (s3rver on 127.0.0.1) against the local remote, each measured in the same run.
// fsync policy: LocalRemote.write fsyncs the temp file, renames it and fsyncs the directory;
// dd runs with conv=fsync (one fsync of the file at the end). Both start from bytes in memory /
// page cache, so the figure is the cost of our write path, not of reading the source.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { openLocalRemote } from '../src/remotes/local/local-remote.ts'
import { createS3Client } from '../src/remotes/s3/s3-client.ts'
import { S3Remote } from '../src/remotes/s3/s3-remote.ts'
import type { Remote } from '../src/remotes/remote.ts'
import { startS3rver } from '../src/remotes/testing/s3rver.ts'
import type { Benchmark } from './harness.ts'
import { timeSeconds } from './harness.ts'

const MIB = 1 << 20
const LOCAL_MIB = Number(process.env.BENCH_REMOTE_MIB ?? 256)
const S3_MIB = Number(process.env.BENCH_S3_MIB ?? 64)

/** The same 1 MiB of random bytes, `mib` times (random so no filesystem compresses it). */
function* source(block: Buffer, mib: number): Generator<Buffer> {
  for (let i = 0; i < mib; i++) yield block
}

async function* asyncSource(block: Buffer, mib: number): AsyncGenerator<Uint8Array> {
  for (const chunk of source(block, mib)) yield await Promise.resolve(chunk)
}

function run(command: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], { stdio: 'ignore' })
    child.once('error', reject)
    child.once('close', (code) => {
      if (code === 0) resolve()
      else reject(new Error(`${command} exited with ${String(code)}`))
    })
  })
}

async function drain(remote: Remote, path: string): Promise<number> {
  let bytes = 0
  for await (const chunk of await remote.read(path)) bytes += (chunk as Uint8Array).byteLength
  return bytes
}

const mibPerSecond = (mib: number, seconds: number): number => Math.round((mib / seconds) * 10) / 10

export const benchmarks: Benchmark[] = [
  {
    name: 'remotes.local-write',
    async run({ dir, report }) {
      const block = randomBytes(MIB)
      const input = join(dir, 'input.bin')
      await writeFile(input, Buffer.concat([...source(block, LOCAL_MIB)]))
      // The input's own writeback must not run during the measurements.
      await run('sync', [])
      const remote = await openLocalRemote(dir)
      let ours = Infinity
      let dd = Infinity
      // Interleaved rounds, best of each: the shared disk's background work hits both alike.
      for (let round = 0; round < 3; round++) {
        ours = Math.min(
          ours,
          await timeSeconds(() => remote.write('ours.bin', asyncSource(block, LOCAL_MIB))),
        )
        await rm(join(dir, 'ours.bin'))
        await run('sync', [])
        const ddArgs = [`if=${input}`, `of=${join(dir, 'dd.bin')}`, 'bs=1M', 'conv=fsync', 'status=none']
        dd = Math.min(dd, await timeSeconds(() => run('dd', ddArgs)))
        await rm(join(dir, 'dd.bin'))
        await run('sync', [])
      }
      report({
        name: 'remotes.local.write-MiB-per-second',
        value: mibPerSecond(LOCAL_MIB, ours),
        unit: 'MiB/s',
        reference: {
          name: `dd bs=1M conv=fsync of the same ${LOCAL_MIB} MiB`,
          value: mibPerSecond(LOCAL_MIB, dd),
          unit: 'MiB/s',
        },
      })
    },
  },
  {
    name: 'remotes.s3rver',
    async run({ dir, report }) {
      process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
      const block = randomBytes(MIB)
      const server = await startS3rver('bench')
      const client = createS3Client({
        endpoint: server.endpoint,
        accessKeyId: server.accessKeyId,
        secretAccessKey: server.secretAccessKey,
      })
      try {
        const s3 = new S3Remote({ client, bucket: 'bench', prefix: 'run' })
        const local = await openLocalRemote(dir)
        const s3Write = await timeSeconds(() => s3.write('data.bin', asyncSource(block, S3_MIB)))
        const localWrite = await timeSeconds(() => local.write('data.bin', asyncSource(block, S3_MIB)))
        const s3Read = await timeSeconds(() => drain(s3, 'data.bin'))
        const localRead = await timeSeconds(() => drain(local, 'data.bin'))
        report({
          name: 'remotes.s3rver.write-MiB-per-second',
          value: mibPerSecond(S3_MIB, s3Write),
          unit: 'MiB/s',
          reference: {
            name: `local remote write of the same ${S3_MIB} MiB`,
            value: mibPerSecond(S3_MIB, localWrite),
            unit: 'MiB/s',
          },
        })
        report({
          name: 'remotes.s3rver.read-MiB-per-second',
          value: mibPerSecond(S3_MIB, s3Read),
          unit: 'MiB/s',
          reference: {
            name: `local remote read of the same ${S3_MIB} MiB`,
            value: mibPerSecond(S3_MIB, localRead),
            unit: 'MiB/s',
          },
        })
      } finally {
        client.destroy()
        await server.stop()
      }
    },
  },
]
