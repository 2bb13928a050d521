// Server-side copy for rename on S3: CopyObject up to 5 GiB (its limit), beyond that a multipart
// upload whose parts are UploadPartCopy ranges of the source, completed at once (so the target
// appears whole) and aborted on failure.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3'
import type { CompletedPart } from '@aws-sdk/client-s3'
import type { JsonObject } from '../../shared/json.ts'
import { RemoteError } from '../remote-error.ts'
import { S3_MAX_PART_BYTES, S3_MAX_PARTS, S3_MIN_PART_BYTES, s3Call } from './s3-upload.ts'
import type { S3Port } from './s3-upload.ts'

/** What copyObject needs. */
export interface CopyOptions {
  readonly bucket: string
  readonly sourceKey: string
  readonly targetKey: string
  readonly sizeBytes: number
  /** `bucket/key`, escaped as the server expects (S3RemoteOptions.copySourceEncoding). */
  readonly copySource: string
  /** The remote path, for errors. */
  readonly path: string
  /** Largest object copied with one CopyObject (default and maximum 5 GiB). */
  readonly singleCopyMaxBytes?: number
  readonly onWarning?: ((message: string, details: JsonObject) => void) | undefined
}

/** Copy part size: 1 GiB, or more when 10 000 of them would not cover the object. */
export function planCopyPartSize(sizeBytes: number): number {
  const fit = Math.ceil(sizeBytes / S3_MAX_PARTS)
  return Math.min(S3_MAX_PART_BYTES, Math.max(S3_MIN_PART_BYTES, 1 << 30, fit))
}

/** Copies `sourceKey` to `targetKey` on the server; the target appears whole or not at all. */
export async function copyObject(
  port: S3Port,
  options: CopyOptions,
  partSizeBytes = planCopyPartSize(options.sizeBytes),
) {
  const { bucket, targetKey: Key, copySource: CopySource, path } = options
  if (options.sizeBytes <= Math.min(S3_MAX_PART_BYTES, options.singleCopyMaxBytes ?? S3_MAX_PART_BYTES)) {
    await s3Call(path, 'rename', () => port.send(new CopyObjectCommand({ Bucket: bucket, Key, CopySource })))
    return
  }
  if (Math.ceil(options.sizeBytes / partSizeBytes) > S3_MAX_PARTS) {
    throw new RemoteError(
      'UNSUPPORTED',
      `rename ${JSON.stringify(path)}: ${options.sizeBytes} bytes need more than ${S3_MAX_PARTS} copy parts`,
    )
  }
  const created = await s3Call(path, 'rename', () =>
    port.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key })),
  )
  const UploadId = created.UploadId
  if (UploadId === undefined)
    throw new RemoteError('IO_ERROR', `rename ${JSON.stringify(path)}: no UploadId from the server`)
  try {
    const parts: CompletedPart[] = []
    for (let start = 0, PartNumber = 1; start < options.sizeBytes; start += partSizeBytes, PartNumber++) {
      const last = Math.min(options.sizeBytes, start + partSizeBytes) - 1
      const CopySourceRange = `bytes=${start}-${last}`
      const response = await s3Call(path, 'rename', () =>
        port.send(
          new UploadPartCopyCommand({
            Bucket: bucket,
            Key,
            UploadId,
            PartNumber,
            CopySource,
            CopySourceRange,
          }),
        ),
      )
      parts.push({ PartNumber, ETag: response.CopyPartResult?.ETag ?? '' })
    }
    await s3Call(path, 'rename', () =>
      port.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key,
          UploadId,
          MultipartUpload: { Parts: parts },
        }),
      ),
    )
  } catch (error) {
    try {
      await port.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key, UploadId }))
    } catch (abortError) {
      options.onWarning?.('could not abort the multipart copy', {
        path,
        uploadId: UploadId,
        error: abortError instanceof Error ? abortError.name : String(abortError),
      })
    }
    throw error
  }
}
