// Remote benchmarks. Local: the local remote's atomic write (temp file, fsync, rename, fsync of the
// directory) against `dd conv=fsync` of the same bytes to the same directory; both start from bytes
// in memory or the page cache, and a `sync` outside the timing empties the writeback between sides.
// S3 (s3rver in its own process on loopback): S3Remote against the AWS SDK driving the same requests
// itself (the same 5 MiB parts, 2 in flight; one GetObject), so the figure is our layer's cost and
// not s3rver's speed, which dominates both.
import { randomBytes } from 'node:crypto'
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3'
import type { CompletedPart, S3Client } from '@aws-sdk/client-s3'
import { openLocalRemote } from '../src/remotes/local/local-remote.ts'
import { createS3Client } from '../src/remotes/s3/s3-client.ts'
import { S3Remote } from '../src/remotes/s3/s3-remote.ts'
import { S3_MIN_PART_BYTES } from '../src/remotes/s3/s3-upload.ts'
import type { Remote } from '../src/remotes/remote.ts'
import { startS3rver } from '../src/remotes/testing/s3rver.ts'
import type { Benchmark, Sample } from './harness.ts'
import { timeWithCpu } from './harness.ts'
import { run, timeCommand } from './processes.ts'

const MIB = 1 << 20
const LOCAL_MIB = Number(process.env.BENCH_REMOTE_MIB ?? 256)
const S3_MIB = Number(process.env.BENCH_S3_MIB ?? 32)

/** The same 1 MiB of random bytes, `mib` times (random so no filesystem compresses it). */
async function* source(block: Buffer, mib: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < mib; i++) yield await Promise.resolve(block)
}

async function drain(body: AsyncIterable<unknown>): Promise<number> {
  let bytes = 0
  for await (const chunk of body) bytes += (chunk as Uint8Array).byteLength
  return bytes
}

async function drainRemote(remote: Remote, path: string, expected: number): Promise<void> {
  const bytes = await drain(await remote.read(path))
  if (bytes !== expected) throw new Error(`read ${bytes} bytes of ${path}, expected ${expected}`)
}

/** The multipart upload S3Remote makes for `mib` MiB, sent by the SDK from ready-made parts. */
async function sdkUpload(client: S3Client, bucket: string, key: string, parts: readonly Buffer[]) {
  const created = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }))
  const UploadId = created.UploadId
  const done: CompletedPart[] = []
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < parts.length) {
      const PartNumber = ++next
      const Body = parts[PartNumber - 1] as Buffer
      const answer = await client.send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: key,
          UploadId,
          PartNumber,
          Body,
          ContentLength: Body.length,
        }),
      )
      done[PartNumber - 1] = { PartNumber, ETag: answer.ETag ?? '' }
    }
  }
  await Promise.all([worker(), worker()])
  await client.send(
    new CompleteMultipartUploadCommand({
      Bucket: bucket,
      Key: key,
      UploadId,
      MultipartUpload: { Parts: done },
    }),
  )
}

export const benchmarks: Benchmark[] = [
  {
    name: 'remotes.local-write',
    async setup({ dir }) {
      const block = randomBytes(MIB)
      const input = join(dir, 'input.bin')
      await writeFile(input, Buffer.concat(Array.from({ length: LOCAL_MIB }, () => block)))
      // The input's own writeback must not run during the measurements.
      await run('sync', [])
      const remote = await openLocalRemote(dir)
      const work = { amount: LOCAL_MIB, unit: 'MiB' }
      const timedThenClean = async (write: () => Promise<Sample>, file: string): Promise<Sample> => {
        const sample = await write()
        await rm(join(dir, file))
        await run('sync', [])
        return sample
      }
      const ddArgs = [`if=${input}`, `of=${join(dir, 'dd.bin')}`, 'bs=1M', 'conv=fsync', 'status=none']
      return {
        sides: {
          dd: {
            name: `dd bs=1M conv=fsync of the same ${LOCAL_MIB} MiB (from the page cache)`,
            work,
            measure: () => timedThenClean(() => timeCommand('dd', ddArgs), 'dd.bin'),
          },
          ours: {
            name: `LocalRemote.write of ${LOCAL_MIB} MiB (temp, fsync, rename, fsync dir)`,
            work,
            measure: () =>
              timedThenClean(
                () => timeWithCpu(() => remote.write('ours.bin', source(block, LOCAL_MIB))),
                'ours.bin',
              ),
          },
        },
        figures: [{ name: 'remotes.local.write', subject: 'ours', reference: 'dd' }],
      }
    },
  },
  {
    name: 'remotes.s3rver',
    async setup() {
      process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
      const block = randomBytes(MIB)
      const whole = Buffer.concat(Array.from({ length: S3_MIB }, () => block))
      const parts: Buffer[] = []
      for (let at = 0; at < whole.length; at += S3_MIN_PART_BYTES)
        parts.push(whole.subarray(at, at + S3_MIN_PART_BYTES))
      const server = await startS3rver('bench')
      const client = createS3Client({
        endpoint: server.endpoint,
        accessKeyId: server.accessKeyId,
        secretAccessKey: server.secretAccessKey,
      })
      const s3 = new S3Remote({ client, bucket: 'bench', prefix: 'run' })
      const work = { amount: S3_MIB, unit: 'MiB' }
      const bytes = S3_MIB * MIB
      return {
        sides: {
          sdkWrite: {
            name: `AWS SDK multipart upload of the same ${S3_MIB} MiB (5 MiB parts, 2 in flight)`,
            work,
            measure: () => timeWithCpu(() => sdkUpload(client, 'bench', 'run/sdk.bin', parts)),
          },
          ourWrite: {
            name: `S3Remote.write of ${S3_MIB} MiB from 1 MiB chunks`,
            work,
            measure: () => timeWithCpu(() => s3.write('ours.bin', source(block, S3_MIB))),
          },
          sdkRead: {
            name: `AWS SDK GetObject of the same ${S3_MIB} MiB, body drained`,
            work,
            measure: () =>
              timeWithCpu(async () => {
                const answer = await client.send(
                  new GetObjectCommand({ Bucket: 'bench', Key: 'run/sdk.bin' }),
                )
                if ((await drain(answer.Body as AsyncIterable<unknown>)) !== bytes)
                  throw new Error('short GET')
              }),
          },
          ourRead: {
            name: `S3Remote.read of ${S3_MIB} MiB, drained`,
            work,
            measure: () => timeWithCpu(() => drainRemote(s3, 'ours.bin', bytes)),
          },
        },
        figures: [
          { name: 'remotes.s3rver.write', subject: 'ourWrite', reference: 'sdkWrite' },
          { name: 'remotes.s3rver.read', subject: 'ourRead', reference: 'sdkRead' },
        ],
        async close() {
          client.destroy()
          await server.stop()
        },
      }
    },
  },
]
