// One XAPI download (`/export_raw_vdi`, `/export`) as the sources need it: the body read once
// through the job's rate limiter, the start checked for an XAPI error page, the task's outcome
// awaited once, and a close that ends the task instead of leaving it pending.
import { isAbortError } from '../../shared/errors.ts'
import type {
  CallOptions,
  ResourceQuery,
  XapiClient,
  XapiDownload,
  XapiRef,
  XapiValue,
} from '../../xapi/types.ts'
import type { RateLimiter } from '../rate-limit.ts'
import { rateLimited } from '../rate-limit.ts'
import type { ExportSubject } from './export-error.ts'
import { exportError } from './export-error.ts'

/** Options shared by the sources. */
export interface DownloadOptions {
  /** Aborts the download (its task is cancelled); the sources rethrow the signal's reason. */
  readonly signal?: AbortSignal
  /** The job run's shared limiter (`maxExportRate`), applied to the body's bytes once. */
  readonly rateLimiter?: RateLimiter
  /** How long a close waits for the cancelled task to end (default 60 s): it must never hang. */
  readonly closeTimeoutMs?: number
}

// Enough for `HTTP/` and every compression magic (zstd's is 4 bytes).
const HEAD_BYTES = 8
const HTTP_PREFIX = 'HTTP/'

/** A started download: its body as chunks (once), its task's outcome, and close. */
export class ExportDownload {
  readonly subject: ExportSubject
  readonly taskRef: XapiRef
  readonly #xapi: XapiClient
  readonly #download: XapiDownload
  readonly #options: DownloadOptions
  #bytesRead = 0
  #bodyDone = false
  #taken = false
  #outcome: Promise<XapiValue> | undefined
  #closing: Promise<void> | undefined
  #closeReason: { readonly reason: unknown } | undefined

  constructor(xapi: XapiClient, subject: ExportSubject, download: XapiDownload, options: DownloadOptions) {
    this.#xapi = xapi
    this.subject = subject
    this.#download = download
    this.taskRef = download.taskRef
    this.#options = options
    // Errors surface through the iterator; an unread, destroyed body must not crash the process.
    download.body.on('error', () => undefined)
  }

  /** Body bytes read so far (the offset named by errors that are not about the body's structure). */
  get bytesRead(): number {
    return this.#bytesRead
  }

  /** Set once close() was called: why (a consumer-less fan-out's causes, an abort). */
  get closeReason(): { readonly reason: unknown } | undefined {
    return this.#closeReason
  }

  /**
   * The body, rate-limited, with its first bytes passed to `checkHead` (which throws on an
   * unexpected start); may be iterated once. Ends when XAPI closes the connection.
   */
  async *chunks(checkHead: (head: Uint8Array) => void): AsyncGenerator<Uint8Array> {
    if (this.#taken) throw new RangeError(`${this.subject.request}: the body can be read once`)
    this.#taken = true
    // Held until HEAD_BYTES came (or the body ended), checked, then passed on; undefined after.
    let head: Uint8Array[] | undefined = []
    let headBytes = 0
    const body = rateLimited(this.#download.body, this.#options.rateLimiter, this.#options.signal)
    for await (const chunk of body) {
      this.#bytesRead += chunk.byteLength
      if (head === undefined) {
        yield chunk
        continue
      }
      head.push(chunk)
      headBytes += chunk.byteLength
      if (headBytes < HEAD_BYTES) continue
      const held: Uint8Array[] = head
      head = undefined
      checkHead(Buffer.concat(held))
      yield* held
    }
    if (head !== undefined) {
      checkHead(Buffer.concat(head))
      yield* head
    }
    this.#bodyDone = true
  }

  /** Waits once for the task (later calls share the answer); XAPI's error is rethrown as is. */
  outcome(options: CallOptions = {}): Promise<XapiValue> {
    this.#outcome ??= this.#download.result(options)
    return this.#outcome
  }

  /**
   * Ends the download: destroys the body (the connection closes), cancels the task unless the
   * body was read whole, and waits (bounded) for the task to end so it is not left pending.
   * Idempotent; never throws.
   */
  close(reason?: unknown): Promise<void> {
    this.#closing ??= (async () => {
      this.#closeReason = { reason }
      const cut = !this.#bodyDone
      this.#download.body.destroy()
      if (cut) await this.#xapi.call('task.cancel', [this.taskRef]).catch(() => undefined)
      const bound = AbortSignal.timeout(this.#options.closeTimeoutMs ?? 60_000)
      await this.outcome({ signal: bound }).catch(() => undefined)
    })()
    return this.#closing
  }
}

/** Throws an EXPORT_UNEXPECTED_FORMAT if the body starts like an HTTP answer (xen-api#4603, xapi.md §3). */
export function refuseHttpPage(subject: ExportSubject, head: Uint8Array): void {
  const text = Buffer.from(head.subarray(0, HTTP_PREFIX.length)).toString('latin1')
  if (text === HTTP_PREFIX) {
    throw exportError(
      'EXPORT_UNEXPECTED_FORMAT',
      subject,
      'byte 0: expected the export data, got an HTTP answer inside the body (an XAPI error page)',
    )
  }
}

/** Starts `GET path?query` under the client's own task; a refusal becomes EXPORT_REFUSED naming the subject. */
export async function startDownload(
  xapi: XapiClient,
  subject: ExportSubject,
  path: string,
  query: ResourceQuery,
  options: DownloadOptions,
): Promise<ExportDownload> {
  try {
    const download = await xapi.getResource(
      path,
      query,
      options.signal === undefined ? {} : { signal: options.signal },
    )
    return new ExportDownload(xapi, subject, download, options)
  } catch (error) {
    if (isAbortError(error) || options.signal?.aborted === true) throw error
    const reason = error instanceof Error ? error.message : String(error)
    throw exportError('EXPORT_REFUSED', subject, `XAPI refused the export: ${reason}`, { cause: error })
  }
}
