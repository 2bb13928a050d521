import { isAbortError } from '../../shared/errors.ts'
import { RemoteError, toRemoteError } from '../remote-error.ts'
import type { RemoteErrorCode } from '../remote-error.ts'

const BY_NAME: Readonly<Record<string, RemoteErrorCode>> = {
  NoSuchKey: 'NOT_FOUND',
  NotFound: 'NOT_FOUND',
  NoSuchBucket: 'NOT_FOUND',
  NoSuchUpload: 'NOT_FOUND',
  PreconditionFailed: 'ALREADY_EXISTS',
  InvalidRange: 'INVALID_RANGE',
  AccessDenied: 'ACCESS_DENIED',
  InvalidAccessKeyId: 'ACCESS_DENIED',
  SignatureDoesNotMatch: 'ACCESS_DENIED',
  SlowDown: 'UNAVAILABLE',
  Throttling: 'UNAVAILABLE',
  ThrottlingException: 'UNAVAILABLE',
  RequestTimeout: 'UNAVAILABLE',
  InternalError: 'UNAVAILABLE',
  ServiceUnavailable: 'UNAVAILABLE',
  // AWS answers 409 to a conditional write racing another one on the same key: try again.
  ConditionalRequestConflict: 'UNAVAILABLE',
  TimeoutError: 'UNAVAILABLE',
}

function statusCode(error: unknown): number | undefined {
  const status = (error as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata?.httpStatusCode
  return typeof status === 'number' ? status : undefined
}

function codeFromStatus(status: number | undefined): RemoteErrorCode | undefined {
  if (status === undefined) return undefined
  if (status === 404) return 'NOT_FOUND'
  if (status === 412) return 'ALREADY_EXISTS'
  if (status === 416) return 'INVALID_RANGE'
  if (status === 401 || status === 403) return 'ACCESS_DENIED'
  if (status === 429 || status >= 500) return 'UNAVAILABLE'
  return undefined
}

/**
 * Classifies an S3 SDK error by its name (the S3 error code) and HTTP status: NoSuchKey/404 →
 * NOT_FOUND, 412 → ALREADY_EXISTS, 416 → INVALID_RANGE, 403 → ACCESS_DENIED, 5xx/429/SlowDown →
 * UNAVAILABLE (retryable); network errors go through the errno table; aborts pass through.
 */
export function toS3RemoteError(error: unknown, operation: string, path: string): unknown {
  if (error instanceof RemoteError) return error
  // The SDK reports a network timeout as a TimeoutError: that one is retryable, not an abort.
  if (isAbortError(error) && (error as Error).name === 'AbortError') return error
  const name = error instanceof Error ? error.name : ''
  const code = BY_NAME[name] ?? codeFromStatus(statusCode(error))
  if (code === undefined) return toRemoteError(error, operation, path)
  const reason = error instanceof Error ? error.message || name : String(error)
  return new RemoteError(code, `${operation} ${JSON.stringify(path)}: ${name}: ${reason}`, {
    details: { operation, path, s3Error: name, httpStatus: statusCode(error) ?? null },
    cause: error,
  })
}
