// Server-sent events parsing (WHATWG HTML "event stream interpretation"), fed decoded text in
// chunks that may split lines anywhere: the console reads the run's event stream with fetch (the
// token goes in a header, which EventSource cannot send), so it parses the stream itself.

/** One dispatched event: its type (`message` when the stream named none), data and last id. */
export interface SseMessage {
  readonly event: string
  readonly data: string
  /** The last event id seen so far (the stream's `id:` lines persist across events). */
  readonly lastEventId: string
}

/** An incremental parser: push text chunks, get the events each completed. */
export class SseParser {
  private buffer = ''
  private pendingCr = false
  private eventType = ''
  private data: string[] = []
  private hasData = false
  // An id takes effect when its event is dispatched: a connection dropped in the middle of an
  // event must resume before that event, not after it.
  private idBuffer: string | undefined
  /** The id to resume from (`Last-Event-ID`): the last dispatched one, kept across events. */
  lastEventId = ''
  /** The reconnection delay the server asked for with `retry:`, in ms. */
  retryMs: number | undefined

  /** Drops a half-received event (a new connection starts clean); keeps the last dispatched id and retry. */
  reset(): void {
    this.buffer = ''
    this.pendingCr = false
    this.eventType = ''
    this.data = []
    this.hasData = false
    this.idBuffer = undefined
  }

  /** Parses `chunk` and returns the events it completed, in order. */
  push(chunk: string): SseMessage[] {
    const out: SseMessage[] = []
    let text = chunk
    // A CR ending the previous chunk already ended its line: a LF starting this one is its pair.
    if (this.pendingCr && text.startsWith('\n')) text = text.slice(1)
    this.pendingCr = false
    this.buffer += text
    let start = 0
    for (;;) {
      const cr = this.buffer.indexOf('\r', start)
      const lf = this.buffer.indexOf('\n', start)
      const end = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf)
      if (end === -1) break
      const line = this.buffer.slice(start, end)
      if (this.buffer[end] === '\r' && end + 1 === this.buffer.length) this.pendingCr = true
      start = this.buffer[end] === '\r' && this.buffer[end + 1] === '\n' ? end + 2 : end + 1
      const message = this.line(line)
      if (message !== undefined) out.push(message)
    }
    this.buffer = this.buffer.slice(start)
    return out
  }

  private line(line: string): SseMessage | undefined {
    if (line === '') return this.dispatch()
    if (line.startsWith(':')) return undefined
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    switch (field) {
      case 'event':
        this.eventType = value
        break
      case 'data':
        this.data.push(value)
        this.hasData = true
        break
      case 'id':
        if (!value.includes('\0')) this.idBuffer = value
        break
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value)
        break
    }
    return undefined
  }

  private dispatch(): SseMessage | undefined {
    if (this.idBuffer !== undefined) this.lastEventId = this.idBuffer
    this.idBuffer = undefined
    const message = this.hasData
      ? { event: this.eventType || 'message', data: this.data.join('\n'), lastEventId: this.lastEventId }
      : undefined
    this.eventType = ''
    this.data = []
    this.hasData = false
    return message
  }
}
