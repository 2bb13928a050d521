import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import type { VersionedStore } from '../cas-lease-lock.ts'
import { isRemoteError } from '../remote-error.ts'
import { collectStream } from '../byte-streams.ts'
import { s3Call } from './s3-upload.ts'
import type { S3Port } from './s3-upload.ts'

/** A change refused because the object is not (or no longer) the version named. */
const changed = (error: unknown): boolean =>
  isRemoteError(error, 'ALREADY_EXISTS') || isRemoteError(error, 'NOT_FOUND')

/**
 * Compare-and-swap on small S3 objects with ETags: `If-None-Match: *` to create, `If-Match: <etag>`
 * to replace or delete (AWS since 2024, MinIO; servers that ignore these headers make it unsafe,
 * which is why S3Remote uses it only with `conditionalWrites`). `key` maps a remote path to a key.
 */
export function s3VersionedStore(
  port: S3Port,
  bucket: string,
  key: (path: string) => string,
): VersionedStore {
  return {
    async readVersioned(path) {
      try {
        const response = await s3Call(path, 'lock', () =>
          port.send(new GetObjectCommand({ Bucket: bucket, Key: key(path) })),
        )
        const data =
          response.Body === undefined
            ? Buffer.alloc(0)
            : await collectStream(response.Body as AsyncIterable<Uint8Array>)
        return { data, version: response.ETag ?? '' }
      } catch (error) {
        if (isRemoteError(error, 'NOT_FOUND')) return undefined
        throw error
      }
    },
    async replaceIf(path, data, version) {
      const condition = version === undefined ? { IfNoneMatch: '*' } : { IfMatch: version }
      try {
        const response = await s3Call(path, 'lock', () =>
          port.send(
            new PutObjectCommand({
              Bucket: bucket,
              Key: key(path),
              Body: data,
              ContentLength: data.byteLength,
              ...condition,
            }),
          ),
        )
        return response.ETag ?? ''
      } catch (error) {
        if (changed(error)) return undefined
        throw error
      }
    },
    async deleteIf(path, version) {
      try {
        await s3Call(path, 'unlock', () =>
          port.send(new DeleteObjectCommand({ Bucket: bucket, Key: key(path), IfMatch: version })),
        )
        return true
      } catch (error) {
        if (changed(error)) return false
        throw error
      }
    },
  }
}
