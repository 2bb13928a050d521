import { ByteCursor } from '../../shared/byte-cursor.ts'
import { fail } from './vhd-error.ts'

const TAIL_READ_BYTES = 64 * 1024

/**
 * A forward-only reader over a VHD byte stream: exact reads and forward skips (on the shared
 * ByteCursor), each failing with a VHD error that names the stream, the offset and what was read.
 */
export class StreamCursor {
  readonly name: string
  readonly #cursor: ByteCursor

  constructor(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, name: string) {
    this.name = name
    this.#cursor = new ByteCursor(source)
  }

  /** Bytes consumed so far. */
  get position(): number {
    return this.#cursor.position
  }

  /** Reads exactly `length` bytes; throws VHD_TRUNCATED naming `what` when the stream ends first. */
  async read(length: number, what: string): Promise<Uint8Array> {
    const at = this.position
    const out = await this.#cursor.read(length)
    if (out.length < length) {
      fail(
        'VHD_TRUNCATED',
        this.name,
        at,
        what,
        `${length} bytes`,
        `${out.length} bytes before the end of the stream`,
      )
    }
    return out
  }

  /** Skips forward to `offset`; throws VHD_INVALID when `offset` is behind (streams cannot seek back). */
  async skipTo(offset: number, what: string): Promise<void> {
    const at = this.position
    if (offset < at)
      fail('VHD_INVALID', this.name, at, what, `an offset >= ${at} (forward-only stream)`, offset)
    if ((await this.#cursor.skip(offset - at)) < offset - at) {
      fail('VHD_TRUNCATED', this.name, this.position, what, `data up to ${offset}`, 'end of stream')
    }
  }

  /** Reads to the end of the stream and returns its last `length` bytes (fewer if the rest is shorter). */
  async readTail(length: number): Promise<Uint8Array> {
    let tail = new Uint8Array(0)
    for (
      let chunk = await this.#cursor.read(TAIL_READ_BYTES);
      chunk.length > 0;
      chunk = await this.#cursor.read(TAIL_READ_BYTES)
    ) {
      const keep = tail.subarray(Math.max(0, tail.length + chunk.length - length))
      const joined = new Uint8Array(keep.length + chunk.length)
      joined.set(keep)
      joined.set(chunk, keep.length)
      tail = joined.subarray(Math.max(0, joined.length - length))
    }
    return tail
  }
}
