import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { JsonObject } from '../../shared/json.ts'
import { describeRemoteConformance, patternBytes, rejectsWith } from '../testing/conformance.ts'
import { startS3rver } from '../testing/s3rver.ts'
import type { S3rverInstance } from '../testing/s3rver.ts'
import { readAll } from '../byte-streams.ts'
import { createS3Client } from './s3-client.ts'
import { S3Remote } from './s3-remote.ts'
import type { S3RemoteOptions } from './s3-remote.ts'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

let server: S3rverInstance | undefined
let counter = 0
const warnings: JsonObject[] = []

before(async () => {
  server = await startS3rver()
})
after(async () => {
  await server?.stop()
})

function s3rverRemote(options: Partial<S3RemoteOptions> = {}): S3Remote {
  if (server === undefined) throw new Error('s3rver did not start')
  const client = createS3Client({
    endpoint: server.endpoint,
    accessKeyId: server.accessKeyId,
    secretAccessKey: server.secretAccessKey,
    maxAttempts: 1,
  })
  return new S3Remote({
    client,
    bucket: server.bucket,
    prefix: `run/t${++counter}`,
    // Small parts and pages so the suite crosses part and page boundaries with small data.
    minPartSizeBytes: 256 << 10,
    listPageSize: 7,
    // s3rver decodes x-amz-copy-source with decodeURI, so %2B etc. would stay encoded.
    copySourceEncoding: 'uri',
    onWarning: (_message, details) => warnings.push(details),
    ...options,
  })
}

describeRemoteConformance('s3 (s3rver)', (clock) => Promise.resolve({ remote: s3rverRemote({ clock }) }))

describe('S3Remote on s3rver', () => {
  it('uploads a large stream in bounded parts and cannot abort on s3rver (reported as a warning)', async () => {
    const remote = s3rverRemote()
    const data = patternBytes(3 * (256 << 10) + 1000, 9)
    await remote.write('multi.bin', data, { sizeBytes: data.byteLength })
    assert.ok(
      (await readAll(remote, 'multi.bin')).equals(data),
      "(await readAll(remote, 'multi.bin')).equals(data)",
    )
    const before = warnings.length
    async function* failing() {
      yield await Promise.resolve(data.subarray(0, 600 << 10))
      throw new Error('source died')
    }
    await assert.rejects(remote.write('dead.bin', failing()), /source died/)
    await rejectsWith(remote.stat('dead.bin'), 'NOT_FOUND')
    assert.equal(warnings.length, before + 1)
    assert.equal(warnings.at(-1)?.error, 'MethodNotAllowed')
  })

  it('shows why conditionalWrites defaults to off: s3rver ignores If-None-Match', async () => {
    const remote = s3rverRemote({ conditionalWrites: true })
    await remote.write('c.bin', Buffer.from('first'), { ifAbsent: true })
    await remote.write('c.bin', Buffer.from('second'), { ifAbsent: true })
    assert.equal((await readAll(remote, 'c.bin')).toString(), 'second')
  })

  it('maps a missing bucket to NOT_FOUND', async () => {
    const remote = s3rverRemote({ bucket: 'no-such-bucket' })
    await rejectsWith(remote.stat('x'), 'NOT_FOUND')
    await rejectsWith(remote.write('x', Buffer.from('x')), 'NOT_FOUND')
  })
})
