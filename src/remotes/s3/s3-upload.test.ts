import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createFixedClock } from '../../shared/clock.ts'
import type { JsonObject } from '../../shared/json.ts'
import { isRemoteError } from '../remote-error.ts'
import { rejectsWith } from '../testing/conformance.ts'
import { toS3RemoteError } from './s3-errors.ts'
import { S3Remote } from './s3-remote.ts'
import { planPartSize, S3_MAX_PART_BYTES } from './s3-upload.ts'
import type { S3Port } from './s3-upload.ts'

const MIB = 1 << 20

interface Sent {
  readonly name: string
  readonly input: Record<string, unknown>
}

/** A fake S3 endpoint: records commands and answers through `answer` (may throw). */
function fakePort(answer: (sent: Sent) => unknown) {
  const sent: Sent[] = []
  let inFlightParts = 0
  let peakParts = 0
  const port = {
    async send(command: { constructor: { name: string }; input: Record<string, unknown> }) {
      const record = { name: command.constructor.name.replace(/Command$/, ''), input: command.input }
      sent.push(record)
      if (record.name !== 'UploadPart') return answer(record)
      inFlightParts++
      peakParts = Math.max(peakParts, inFlightParts)
      try {
        await new Promise((r) => setImmediate(r))
        return await answer(record)
      } finally {
        inFlightParts--
      }
    },
  }
  return { port, sent, peak: () => peakParts }
}

const s3Error = (name: string, status: number) =>
  Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } })

const defaultAnswer = (s: Sent): unknown =>
  s.name === 'CreateMultipartUpload'
    ? { UploadId: 'u1' }
    : s.name === 'UploadPart'
      ? { ETag: `"e${String(s.input.PartNumber)}"` }
      : {}

function remoteOn(port: S3Port, extra: Partial<ConstructorParameters<typeof S3Remote>[0]> = {}) {
  return new S3Remote({
    client: port,
    bucket: 'b',
    prefix: 'dir',
    minPartSizeBytes: 1000,
    clock: createFixedClock(),
    ...extra,
  })
}

async function* chunks(total: number, size: number): AsyncGenerator<Uint8Array> {
  for (let done = 0; done < total; done += size)
    yield await Promise.resolve(Buffer.alloc(Math.min(size, total - done), 7))
}

describe('S3 part sizing', () => {
  it('derives the part size from the length, or doubles it every 1000 parts when unknown', () => {
    const min = 5 * MIB
    assert.equal(planPartSize(1, { minPartSizeBytes: min, sizeBytes: 0 }), min)
    assert.equal(planPartSize(1, { minPartSizeBytes: min, sizeBytes: 40 * 1024 * MIB }), min)
    // 100 GiB / 10 000 = 10.24 MiB → 11 MiB, and 11 MiB × 10 000 ≥ 100 GiB.
    assert.equal(planPartSize(7, { minPartSizeBytes: min, sizeBytes: 100 * 1024 * MIB }), 11 * MIB)
    assert.equal(planPartSize(1, { minPartSizeBytes: min, sizeBytes: 100 * 1024 ** 4 }), S3_MAX_PART_BYTES)
    assert.deepEqual(
      [1, 1000, 1001, 2001, 10_000].map((n) => planPartSize(n, { minPartSizeBytes: min }) / MIB),
      [5, 5, 10, 20, 2560],
    )
    assert.equal(planPartSize(3, { minPartSizeBytes: min, partSizeBytes: 64 * MIB, sizeBytes: 1 }), 64 * MIB)
  })
})

describe('S3 writes (fake endpoint)', () => {
  it('sends one PutObject for a source that fits in a part, with If-None-Match only when asked and supported', async () => {
    const { port, sent } = fakePort(defaultAnswer)
    await remoteOn(port).write('a/f', Buffer.alloc(999))
    await remoteOn(port, { conditionalWrites: true }).write('a/g', Buffer.alloc(10), { ifAbsent: true })
    assert.deepEqual(
      sent.map((s) => [s.name, s.input.Key, s.input.ContentLength, s.input.IfNoneMatch]),
      [
        ['PutObject', 'dir/a/f', 999, undefined],
        ['PutObject', 'dir/a/g', 10, '*'],
      ],
    )
  })

  it('maps 412 on a conditional create to ALREADY_EXISTS; without the capability it checks first', async () => {
    const { port } = fakePort((s) => {
      if (s.name === 'PutObject') throw s3Error('PreconditionFailed', 412)
      return {}
    })
    await rejectsWith(
      remoteOn(port, { conditionalWrites: true }).write('f', Buffer.alloc(1), { ifAbsent: true }),
      'ALREADY_EXISTS',
    )
    const head = fakePort((s) => (s.name === 'HeadObject' ? { ContentLength: 1 } : {}))
    await rejectsWith(remoteOn(head.port).write('f', Buffer.alloc(1), { ifAbsent: true }), 'ALREADY_EXISTS')
    assert.deepEqual(
      head.sent.map((s) => s.name),
      ['HeadObject'],
    )
  })

  it('uploads a long stream in parts with at most queueSize in flight, retries a failed part, completes in order', async () => {
    let failures = 1
    const { port, sent, peak } = fakePort((s) => {
      if (s.name === 'UploadPart' && s.input.PartNumber === 2 && failures-- > 0)
        throw s3Error('ServiceUnavailable', 503)
      return defaultAnswer(s)
    })
    await remoteOn(port, { queueSize: 2, conditionalWrites: true }).write('big', chunks(4500, 300), {
      ifAbsent: true,
    })
    const parts = sent.filter((s) => s.name === 'UploadPart')
    const sizes = new Map(parts.map((s) => [s.input.PartNumber, s.input.ContentLength]))
    assert.deepEqual([...sizes].sort(), [
      [1, 1000],
      [2, 1000],
      [3, 1000],
      [4, 1000],
      [5, 500],
    ])
    assert.deepEqual([...new Set(parts.map((s) => s.input.PartNumber))].sort(), [1, 2, 3, 4, 5])
    assert.equal(parts.filter((s) => s.input.PartNumber === 2).length, 2, 'part 2 retried once')
    assert.ok(peak() <= 2, `peak ${peak()} parts in flight`)
    const complete = sent.at(-1)
    assert.equal(complete?.name, 'CompleteMultipartUpload')
    assert.equal(complete.input.IfNoneMatch, '*')
    assert.deepEqual(
      (complete.input.MultipartUpload as { Parts: { PartNumber: number; ETag: string }[] }).Parts.map(
        (p) => p.ETag,
      ),
      ['"e1"', '"e2"', '"e3"', '"e4"', '"e5"'],
    )
  })

  it('aborts the multipart upload when the source fails, and reports an abort the server refuses', async () => {
    const warnings: JsonObject[] = []
    const answered: string[] = []
    const { port, sent } = fakePort((s) => {
      answered.push(s.name)
      if (s.name === 'AbortMultipartUpload') throw s3Error('MethodNotAllowed', 405)
      return defaultAnswer(s)
    })
    async function* dying() {
      yield* chunks(2500, 500)
      throw new Error('source died')
    }
    await assert.rejects(
      remoteOn(port, { onWarning: (_m, d) => warnings.push(d) }).write('x', dying()),
      /source died/,
    )
    assert.deepEqual(
      sent.map((s) => s.name).filter((n) => n !== 'UploadPart'),
      ['CreateMultipartUpload', 'AbortMultipartUpload'],
    )
    assert.deepEqual(warnings, [{ path: 'x', uploadId: 'u1', error: 'MethodNotAllowed' }])
    // Parts in flight when the source died were answered before the abort was sent.
    assert.equal(answered.at(-1), 'AbortMultipartUpload')
    assert.equal(
      answered.filter((n) => n === 'UploadPart').length,
      sent.filter((x) => x.name === 'UploadPart').length,
    )
  })

  it('deletes in DeleteObjects batches of 1000 and reports per-key failures', async () => {
    const { port, sent } = fakePort(() => ({}))
    const paths = Array.from({ length: 2500 }, (_, i) => `k${i}`)
    await remoteOn(port).deleteMany(paths)
    assert.deepEqual(
      sent.map((s) => (s.input.Delete as { Objects: unknown[] }).Objects.length),
      [1000, 1000, 500],
    )
    const failing = fakePort(() => ({ Errors: [{ Key: 'dir/k3', Code: 'AccessDenied', Message: 'no' }] }))
    await rejectsWith(remoteOn(failing.port).deleteMany(['k3']), 'IO_ERROR')
  })
})

describe('S3 rename (fake endpoint)', () => {
  it('copies with every reserved character of the source key percent-encoded, then deletes the source', async () => {
    const { port, sent } = fakePort((s) => (s.name === 'HeadObject' ? { ContentLength: 3 } : {}))
    await remoteOn(port).rename('a b/x+y=z&#?.txt', 'c/d')
    assert.deepEqual(
      sent.map((s) => [s.name, s.input.Key, s.input.CopySource]),
      [
        ['HeadObject', 'dir/a b/x+y=z&#?.txt', undefined],
        ['CopyObject', 'dir/c/d', 'b/dir/a%20b/x%2By%3Dz%26%23%3F.txt'],
        ['DeleteObject', 'dir/a b/x+y=z&#?.txt', undefined],
      ],
    )
    const big = fakePort((x) =>
      x.name === 'HeadObject'
        ? { ContentLength: 6 * 1024 ** 3 + 1 }
        : x.name === 'CreateMultipartUpload'
          ? { UploadId: 'c1' }
          : {},
    )
    await remoteOn(big.port).rename('huge', 'elsewhere')
    const copies = big.sent.filter((x) => x.name === 'UploadPartCopy').map((x) => x.input.CopySourceRange)
    // Over 5 GiB: 1 GiB UploadPartCopy ranges, the last one byte long.
    assert.equal(copies.length, 7)
    assert.deepEqual(
      [copies[0], copies[6]],
      ['bytes=0-1073741823', `bytes=${6 * 1024 ** 3}-${6 * 1024 ** 3}`],
    )
    assert.deepEqual(
      big.sent.map((x) => x.name).filter((n) => n !== 'UploadPartCopy'),
      ['HeadObject', 'CreateMultipartUpload', 'CompleteMultipartUpload', 'DeleteObject'],
    )
  })
})

describe('S3 error classification', () => {
  it('maps S3 error names and HTTP statuses to stable codes', () => {
    const cases: [unknown, string][] = [
      [s3Error('NoSuchKey', 404), 'NOT_FOUND'],
      [s3Error('NotFound', 404), 'NOT_FOUND'],
      [s3Error('Whatever', 404), 'NOT_FOUND'],
      [s3Error('SlowDown', 503), 'UNAVAILABLE'],
      [s3Error('InternalError', 500), 'UNAVAILABLE'],
      [s3Error('Unknown', 502), 'UNAVAILABLE'],
      [s3Error('AccessDenied', 403), 'ACCESS_DENIED'],
      [s3Error('InvalidRange', 416), 'INVALID_RANGE'],
      [s3Error('PreconditionFailed', 412), 'ALREADY_EXISTS'],
      [Object.assign(new Error('reset'), { code: 'ECONNRESET' }), 'UNAVAILABLE'],
      [s3Error('MalformedXML', 400), 'IO_ERROR'],
    ]
    for (const [error, code] of cases) {
      const mapped = toS3RemoteError(error, 'read', 'p')
      assert.ok(isRemoteError(mapped) && mapped.code === code, `${String(error)} → ${code}`)
    }
    const abort = Object.assign(new Error('aborted'), { name: 'AbortError' })
    assert.equal(toS3RemoteError(abort, 'read', 'p'), abort)
  })
})
