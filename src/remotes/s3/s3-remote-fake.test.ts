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
      // Renames of more than 10 bytes go through the multipart copy (UploadPartCopy) path here;
      // s3rver covers single CopyObject.
      singleCopyMaxBytes: 10,
      copyPartSizeBytes: 4,
      clock,
    }),
  })
})

describe('S3Remote with conditional writes (fake endpoint)', () => {
  it('renames a large object with a multipart copy of byte ranges, then deletes the source', async () => {
    const fake = createFakeS3('bucket')
    const remote = new S3Remote({
      client: fake.port,
      bucket: 'bucket',
      singleCopyMaxBytes: 5,
      copyPartSizeBytes: 4,
    })
    await remote.write('a', Buffer.from('0123456789'))
    fake.calls.length = 0
    await remote.rename('a', 'b')
    assert.deepEqual(fake.calls, [
      'HeadObject',
      'CreateMultipartUpload',
      'UploadPartCopy',
      'UploadPartCopy',
      'UploadPartCopy',
      'CompleteMultipartUpload',
      'DeleteObject',
    ])
    assert.deepEqual([...fake.objects.keys()], ['b'])
    assert.equal(fake.objects.get('b')?.data.toString(), '0123456789')
  })

  it('aborts a failed multipart copy: no target, the source kept', async () => {
    const fake = createFakeS3('bucket')
    let copies = 0
    const failing = {
      send: (command: { constructor: { name: string } }, options?: object) => {
        if (command.constructor.name === 'UploadPartCopyCommand' && ++copies === 2) {
          return Promise.reject(
            Object.assign(new Error('boom'), { name: 'InternalError', $metadata: { httpStatusCode: 500 } }),
          )
        }
        return (fake.port.send as (c: unknown, o?: object) => Promise<unknown>)(command, options)
      },
    } as unknown as typeof fake.port
    const remote = new S3Remote({
      client: failing,
      bucket: 'bucket',
      singleCopyMaxBytes: 5,
      copyPartSizeBytes: 4,
    })
    await remote.write('a', Buffer.from('0123456789'))
    await rejectsWith(remote.rename('a', 'b'), 'UNAVAILABLE')
    assert.deepEqual([...fake.objects.keys()], ['a'])
    assert.equal(fake.uploads.size, 0)
  })

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
