import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { describeRemoteConformance, rejectsWith } from '../testing/conformance.ts'
import { createFakeS3 } from '../testing/fake-s3-port.ts'
import { S3Remote } from './s3-remote.ts'

// The same suite as on s3rver, against an in-memory endpoint that honours If-None-Match: here
// S3Remote runs with conditional writes on, so atomic conditional create and exclusive leases
// (which s3rver cannot show) are exercised too.
describeRemoteConformance('s3 (fake endpoint, conditional writes)', (clock) => {
  const fake = createFakeS3('bucket')
  return Promise.resolve({
    remote: new S3Remote({
      client: fake.port,
      bucket: 'bucket',
      prefix: 'p',
      conditionalWrites: true,
      minPartSizeBytes: 128 << 10,
      listPageSize: 5,
      clock,
    }),
  })
})

describe('S3Remote with conditional writes (fake endpoint)', () => {
  it('declares exclusive locking and leaves no multipart upload behind on failure', async () => {
    const fake = createFakeS3('bucket')
    const remote = new S3Remote({
      client: fake.port,
      bucket: 'bucket',
      conditionalWrites: true,
      minPartSizeBytes: 1000,
    })
    assert.equal(remote.capabilities.locking, 'exclusive')
    async function* dying() {
      yield await Promise.resolve(Buffer.alloc(2500))
      throw new Error('source died')
    }
    await assert.rejects(remote.write('x', dying()), /source died/)
    assert.equal(fake.uploads.size, 0, 'aborted')
    assert.equal(fake.objects.size, 0)
    await rejectsWith(new S3Remote({ client: fake.port, bucket: 'other' }).stat('x'), 'NOT_FOUND')
  })
})
