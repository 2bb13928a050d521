// Reads a server-sent event stream with fetch (so the token travels in a header, never in the
// URL) and reconnects with `Last-Event-ID` when the stream drops before its end event.
import type { SseMessage } from './sse-parser.ts'
import { SseParser } from './sse-parser.ts'

/** A refusal that reconnecting cannot fix (4xx): the caller shows it (401 means log in again). */
export class StreamRefusedError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`event stream refused: HTTP ${status}`)
    this.name = 'StreamRefusedError'
  }
}

/** Connection state changes, for a "reconnecting…" hint. */
export type StreamState = 'connecting' | 'open' | 'reconnecting'

/** What readEventStream needs: where, how to authenticate, what to do with each event. */
export interface EventStreamOptions {
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  readonly signal: AbortSignal
  /** The event type that ends the stream for good (the server sends it last). */
  readonly endEvent: string
  readonly onMessage: (message: SseMessage) => void
  readonly onState?: (state: StreamState, error?: unknown) => void
  /** Resume after this id (an earlier page view's last one). */
  readonly lastEventId?: string
  /** First reconnection delay; doubled after each failed attempt up to maxRetryMs. */
  readonly retryMs?: number
  readonly maxRetryMs?: number
  readonly fetch?: typeof fetch
}

const abortableSleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(done, ms)
    function done(): void {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })

async function readBody(response: Response): Promise<unknown> {
  try {
    return (await response.json()) as unknown
  } catch {
    return undefined
  }
}

/** Reads one connection; true when the end event came, false when the stream dropped before it. */
async function readOnce(options: EventStreamOptions, parser: SseParser): Promise<boolean> {
  const headers: Record<string, string> = { ...options.headers, Accept: 'text/event-stream' }
  if (parser.lastEventId !== '') headers['Last-Event-ID'] = parser.lastEventId
  const response = await (options.fetch ?? fetch)(options.url, { headers, signal: options.signal })
  if (response.status >= 400 && response.status < 500)
    throw new StreamRefusedError(response.status, await readBody(response))
  if (!response.ok || response.body === null) throw new Error(`event stream: HTTP ${response.status}`)
  options.onState?.('open')
  parser.reset()
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return false
      for (const message of parser.push(value)) {
        options.onMessage(message)
        if (message.event === options.endEvent) return true
      }
    }
  } finally {
    // Stop the download when we return early (end event) or fail; a cancelled reader is harmless.
    reader.cancel().catch(() => undefined)
  }
}

/**
 * Reads the stream at `options.url` until its end event ('end') or until `signal` aborts
 * ('aborted'); reconnects with the last id after drops and 5xx answers, with a growing delay;
 * throws StreamRefusedError on a 4xx.
 */
export async function readEventStream(options: EventStreamOptions): Promise<'end' | 'aborted'> {
  const parser = new SseParser()
  if (options.lastEventId !== undefined) parser.lastEventId = options.lastEventId
  const firstDelay = options.retryMs ?? 1000
  let delay = firstDelay
  // A function, not the property: TypeScript would assume it unchanged across the awaits.
  const aborted = (): boolean => options.signal.aborted
  options.onState?.('connecting')
  while (!aborted()) {
    const before = parser.lastEventId
    let failure: unknown
    try {
      if (await readOnce(options, parser)) return 'end'
    } catch (error) {
      if (error instanceof StreamRefusedError) throw error
      failure = error
    }
    if (aborted()) break
    // A connection that made progress resets the backoff: the next drop is a new incident.
    if (parser.lastEventId !== before) delay = parser.retryMs ?? firstDelay
    options.onState?.('reconnecting', failure)
    await abortableSleep(delay, options.signal)
    delay = Math.min(delay * 2, options.maxRetryMs ?? 15_000)
  }
  return 'aborted'
}
