import type { Clock } from '../../shared/clock.ts'
import type { JsonObject } from '../../shared/json.ts'
import { RemoteError } from '../remote-error.ts'
import type { Remote } from '../remote.ts'
import { redactRemoteUrl } from '../url.ts'
import type { RemoteUrl } from '../url.ts'
import { createS3Client } from './s3-client.ts'
import { S3Remote } from './s3-remote.ts'

type S3Url = Extract<RemoteUrl, { type: 's3' }>

const flag = (url: S3Url, name: string): boolean | undefined => {
  const value = url.options[name]
  return typeof value === 'boolean' ? value : undefined
}
const bytes = (url: S3Url, name: string): number | undefined => {
  const value = url.options[name]
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : undefined
}

/**
 * Opens an s3:// or s3+http:// URL: `/bucket/dir` in the path; options `allowUnauthorized`,
 * `forcePathStyle` (default true), `conditionalWrites` (default true on amazonaws.com only),
 * `minPartSize`/`partSize` in bytes; region from `#region` or the AWS host.
 */
export function openS3Remote(
  url: S3Url,
  options: { clock?: Clock; onWarning?: (message: string, details: JsonObject) => void } = {},
): { remote: Remote; close(): Promise<void> } {
  const [bucket = '', ...dir] = url.path.split('/').filter((s) => s !== '')
  if (bucket === '') throw new RemoteError('INVALID_URL', `${redactRemoteUrl(url)}: no bucket in the path`)
  // Requests signed with an empty key fail later as a bare 403, after a run has snapshotted its VMs.
  if (url.username === '' || url.password.reveal() === '')
    throw new RemoteError(
      'INVALID_URL',
      `${redactRemoteUrl(url)}: no ${url.username === '' ? 'access key id' : 'secret access key'}: expected s3://<access key id>:<secret access key>@<host>/<bucket>`,
    )
  // The SDK warns on every process that Node 20 will lose support in 2027 (a process warning on
  // stderr of each S3 command). Only that warning is turned off, through the SDK's documented
  // variable, and only when the user has not set it: every other warning still shows.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'
  const client = createS3Client({
    endpoint: `${url.protocol}://${url.host}`,
    accessKeyId: url.username,
    secretAccessKey: url.password.reveal(),
    ...(url.region === undefined ? {} : { region: url.region }),
    ...(flag(url, 'allowUnauthorized') === undefined
      ? {}
      : { allowUnauthorized: flag(url, 'allowUnauthorized') === true }),
    ...(flag(url, 'forcePathStyle') === undefined
      ? {}
      : { forcePathStyle: flag(url, 'forcePathStyle') === true }),
  })
  const minPart = bytes(url, 'minPartSize')
  const part = bytes(url, 'partSize')
  const remote = new S3Remote({
    client,
    bucket,
    prefix: dir.join('/'),
    conditionalWrites: flag(url, 'conditionalWrites') ?? url.host.endsWith('.amazonaws.com'),
    description: redactRemoteUrl(url),
    ...(minPart === undefined ? {} : { minPartSizeBytes: minPart }),
    ...(part === undefined ? {} : { partSizeBytes: part }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.onWarning === undefined ? {} : { onWarning: options.onWarning }),
  })
  return {
    remote,
    close() {
      client.destroy()
      return Promise.resolve()
    },
  }
}
