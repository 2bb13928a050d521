import { Agent as HttpAgent } from 'node:http'
import { Agent as HttpsAgent } from 'node:https'
import { S3Client } from '@aws-sdk/client-s3'

/** How to reach an S3-compatible endpoint (what an `s3://` or `s3+http://` URL carries). */
export interface S3ConnectOptions {
  /** `https://host[:port]` or `http://host[:port]`. */
  readonly endpoint: string
  readonly accessKeyId: string
  readonly secretAccessKey: string
  /** Default: guessed from an AWS host name, else `us-east-1`. */
  readonly region?: string
  /** Bucket in the path (`host/bucket/key`), which every S3-compatible server accepts (default true). */
  readonly forcePathStyle?: boolean
  /** Accept a self-signed certificate (XO's `allowUnauthorized`). */
  readonly allowUnauthorized?: boolean
  /** PEM of a private CA to trust (safer than `allowUnauthorized`). */
  readonly caPem?: string
  /** Attempts per request by the SDK's own backoff on 5xx/throttling (default 3). */
  readonly maxAttempts?: number
  /** Idle socket timeout per request (default 10 min, as XO). */
  readonly requestTimeoutMs?: number
}

/** The region an AWS endpoint names (`s3.eu-west-3.amazonaws.com`, `s3-us-west-2.amazonaws.com`). */
export function guessAwsRegion(host: string): string | undefined {
  const match = /^s3[.-]([a-z0-9-]+)\.amazonaws\.com$/.exec(host.toLowerCase())
  return match?.[1] === undefined || match[1] === 'external-1' ? undefined : match[1]
}

/**
 * Creates the SDK client. Checksums are computed and validated only when an operation requires
 * them (`WHEN_REQUIRED`): the SDK's default since 3.729 sends aws-chunked bodies that several
 * S3-compatible servers store corrupted (tooling.md §2.2).
 */
export function createS3Client(options: S3ConnectOptions): S3Client {
  const host = new URL(options.endpoint).hostname
  return new S3Client({
    endpoint: options.endpoint,
    region: options.region ?? guessAwsRegion(host) ?? 'us-east-1',
    credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
    forcePathStyle: options.forcePathStyle ?? true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: options.maxAttempts ?? 3,
    requestHandler: {
      requestTimeout: options.requestTimeoutMs ?? 600_000,
      httpAgent: new HttpAgent({ keepAlive: true }),
      httpsAgent: new HttpsAgent({
        keepAlive: true,
        rejectUnauthorized: options.allowUnauthorized !== true,
        ...(options.caPem === undefined ? {} : { ca: options.caPem }),
      }),
    },
  })
}
