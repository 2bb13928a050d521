/**
 * A forward-only reader over an async byte stream, for format parsers (tar, VHD streams): exact
 * reads and skips with one source chunk buffered, so memory stays bounded by the largest read.
 * A read that hits the end of the stream returns fewer bytes; callers turn that into their own
 * precise "truncated" error.
 */
export class ByteCursor {
  #position = 0
  readonly #iterator: AsyncIterator<Uint8Array> | Iterator<Uint8Array>
  #pending: Uint8Array = new Uint8Array(0)
  #ended = false

  constructor(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>) {
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

  /**
   * Reads `length` bytes (fewer only at the end of the stream). When the buffered chunk holds them
   * all, the result is a view of it, not a copy.
   */
  async read(length: number): Promise<Uint8Array> {
    if (!(await this.#fill()) || length === 0) return new Uint8Array(0)
    if (this.#pending.length >= length) {
      const out = this.#pending.subarray(0, length)
      this.#pending = this.#pending.subarray(length)
      this.#position += length
      return out
    }
    const out = new Uint8Array(length)
    let done = 0
    while (done < length && (await this.#fill())) {
      const take = Math.min(length - done, this.#pending.length)
      out.set(this.#pending.subarray(0, take), done)
      this.#pending = this.#pending.subarray(take)
      done += take
      this.#position += take
    }
    return done === length ? out : out.subarray(0, done)
  }

  /** Skips `length` bytes; returns how many were skipped (fewer only at the end of the stream). */
  async skip(length: number): Promise<number> {
    let done = 0
    while (done < length && (await this.#fill())) {
      const take = Math.min(length - done, this.#pending.length)
      this.#pending = this.#pending.subarray(take)
      done += take
      this.#position += take
    }
    return done
  }

  /** True when no byte is left. */
  async atEnd(): Promise<boolean> {
    return !(await this.#fill())
  }

  /** Stops the source (lets a generator run its cleanup) without reading the rest. */
  async close(): Promise<void> {
    this.#ended = true
    await this.#iterator.return?.()
  }
}
