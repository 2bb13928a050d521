import { fail } from './vhd-error.ts'

/** A forward-only reader over an async byte stream: exact reads and forward skips, one chunk buffered. */
export class StreamCursor {
  readonly name: string
  #position = 0
  readonly #iterator: AsyncIterator<Uint8Array> | Iterator<Uint8Array>
  #pending: Uint8Array = new Uint8Array(0)
  #ended = false

  constructor(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, name: string) {
    this.name = name
    this.#iterator =
      Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]()
  }

  /** Bytes consumed so far. */
  get position(): number {
    return this.#position
  }

  async #fill(): Promise<boolean> {
    while (this.#pending.length === 0 && !this.#ended) {
      const next = await this.#iterator.next()
      if (next.done === true) this.#ended = true
      else this.#pending = next.value
    }
    return this.#pending.length > 0
  }

  /** Reads exactly `length` bytes; throws VHD_TRUNCATED naming `what` when the stream ends first. */
  async read(length: number, what: string): Promise<Uint8Array> {
    const out = new Uint8Array(length)
    let done = 0
    while (done < length) {
      if (!(await this.#fill()))
        fail(
          'VHD_TRUNCATED',
          this.name,
          this.#position,
          what,
          `${length} bytes`,
          `${done} bytes before the end of the stream`,
        )
      const take = Math.min(length - done, this.#pending.length)
      out.set(this.#pending.subarray(0, take), done)
      this.#pending = this.#pending.subarray(take)
      done += take
      this.#position += take
    }
    return out
  }

  /** Skips forward to `offset`; throws VHD_INVALID when `offset` is behind (streams cannot seek back). */
  async skipTo(offset: number, what: string): Promise<void> {
    if (offset < this.#position)
      fail(
        'VHD_INVALID',
        this.name,
        this.#position,
        what,
        `an offset >= ${this.#position} (forward-only stream)`,
        offset,
      )
    while (this.#position < offset) {
      if (!(await this.#fill()))
        fail('VHD_TRUNCATED', this.name, this.#position, what, `data up to ${offset}`, 'end of stream')
      const take = Math.min(offset - this.#position, this.#pending.length)
      this.#pending = this.#pending.subarray(take)
      this.#position += take
    }
  }

  /** Reads to the end of the stream and returns its last `length` bytes (fewer if the rest is shorter). */
  async readTail(length: number): Promise<Uint8Array> {
    let tail = new Uint8Array(0)
    while (await this.#fill()) {
      const joined = new Uint8Array(tail.length + this.#pending.length)
      joined.set(tail)
      joined.set(this.#pending, tail.length)
      this.#position += this.#pending.length
      this.#pending = new Uint8Array(0)
      tail = joined.subarray(Math.max(0, joined.length - length))
    }
    return tail
  }
}
