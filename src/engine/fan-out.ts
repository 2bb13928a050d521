// One export feeding several targets (xen-orchestra-backups.md §3.2 SynchronizedDisk, §3.3
// forkStreamUnpipe): each consumer gets its own iterable of the same chunks; the producer reads
// ahead of the slowest live consumer by `bufferChunks` chunks (default 1), so the source is read
// while the targets write, the slowest healthy target paces the source, and memory is bounded by
// chunks, not by the export.
import type { BlockSource, DiskBlock } from '../formats/block-source.ts'
import { BackupError } from '../shared/errors.ts'

/** Codes of FanOutError. */
export type FanOutErrorCode =
  'FAN_OUT_BAD_ARGUMENT' | 'FAN_OUT_ITERATED_TWICE' | 'FAN_OUT_CONSUMER_DROPPED' | 'FAN_OUT_ALL_FAILED'

/** A fan-out misuse, a read by a dropped consumer, or every consumer failing (`errors`: every cause). */
export class FanOutError extends BackupError<FanOutErrorCode> {
  /** For FAN_OUT_ALL_FAILED: each distinct cause, in consumer order (also the cause's AggregateError). */
  readonly errors: readonly unknown[] = []

  constructor(code: FanOutErrorCode, message: string, options: { cause?: unknown; errors?: unknown[] } = {}) {
    const { errors } = options
    super(code, message, {
      cause: errors === undefined ? options.cause : new AggregateError(errors, message),
    })
    if (errors !== undefined) this.errors = errors
  }
}

/** Options of fanOut and fanOutBlockSource. */
export interface FanOutOptions {
  /** Chunks the producer reads ahead of the slowest live consumer (default 1). */
  readonly bufferChunks?: number
  /** Told once per consumer dropped with an error (the VM run's warning naming the target). */
  readonly onDrop?: (index: number, error: unknown) => void
  /**
   * Called once when the last live consumer leaves before the source ended: aborts the download
   * (a pending read is woken by it), with the drop causes known at that moment (a FanOutError);
   * the source iterator is also returned.
   */
  readonly close?: (reason: unknown) => unknown
}

/** The consumers of one fan-out and the way their owners drop them. */
export interface FanOut<C> {
  /** One view per consumer, in index order; each may be iterated once. */
  readonly consumers: readonly C[]
  /**
   * Stops waiting for consumer `index` (its owner failed or will not read): later reads of it
   * throw FAN_OUT_CONSUMER_DROPPED; `error`, if any, is reported to `onDrop` (once per consumer).
   */
  drop(index: number, error?: unknown): void
  /** The errors consumers were dropped with, by index. */
  readonly causes: ReadonlyMap<number, unknown>
  /** Consumers still pacing the source. */
  readonly liveCount: number
}

/** How a consumer run by runConsumers ended. */
export type ConsumerOutcome<R> =
  { readonly ok: true; readonly value: R } | { readonly ok: false; readonly error: unknown }

class Splitter<T> {
  readonly #open: () => AsyncIterator<T>
  readonly #capacity: number
  readonly #options: FanOutOptions
  #iterator: AsyncIterator<T> | undefined
  // Chunks not yet taken by the slowest live consumer; #base is the sequence number of #buffer[0].
  readonly #buffer: T[] = []
  #base = 0
  readonly #positions: number[]
  readonly #detached: boolean[]
  readonly #reported: boolean[]
  readonly causes = new Map<number, unknown>()
  #ended = false
  #failure: { readonly error: unknown } | undefined
  #pulling = false
  #closed = false
  #waiters: (() => void)[] = []

  constructor(open: () => AsyncIterator<T>, count: number, options: FanOutOptions) {
    this.#open = open
    this.#capacity = options.bufferChunks ?? 1
    this.#options = options
    this.#positions = new Array<number>(count).fill(0)
    this.#detached = new Array<boolean>(count).fill(false)
    this.#reported = new Array<boolean>(count).fill(false)
  }

  get liveCount(): number {
    return this.#detached.filter((d) => !d).length
  }

  async next(index: number): Promise<IteratorResult<T, undefined>> {
    for (;;) {
      if (this.#detached[index] === true) {
        throw new FanOutError('FAN_OUT_CONSUMER_DROPPED', `fan-out consumer ${index} was dropped`, {
          cause: this.causes.get(index),
        })
      }
      const position = this.#positions[index] ?? 0
      if (position < this.#base + this.#buffer.length) {
        const value = this.#buffer[position - this.#base] as T
        this.#positions[index] = position + 1
        this.#trim()
        // Read the next chunk while the consumers work on this one: with a single consumer,
        // nothing else would ask for it, and reading and writing would take turns.
        this.#fill()
        return { done: false, value }
      }
      if (this.#failure !== undefined) throw this.#failure.error
      if (this.#ended || this.#closed) return { done: true, value: undefined }
      this.#fill()
      await new Promise<void>((resolve) => this.#waiters.push(resolve))
    }
  }

  detach(index: number, error: unknown): void {
    if (index < 0 || index >= this.#detached.length || !Number.isInteger(index))
      throw new FanOutError('FAN_OUT_BAD_ARGUMENT', `drop: no consumer ${index}`)
    if (error !== undefined && this.#reported[index] !== true) {
      this.#reported[index] = true
      this.causes.set(index, error)
      this.#options.onDrop?.(index, error)
    }
    if (this.#detached[index] === true) return
    this.#detached[index] = true
    this.#trim()
    if (this.liveCount === 0 && !this.#ended && this.#failure === undefined) this.#close()
  }

  /** Starts a read if the slowest live consumer is fewer than `capacity` chunks behind the source. */
  #fill(): void {
    if (this.#pulling || this.#ended || this.#closed || this.#failure !== undefined) return
    if (this.#buffer.length < this.#capacity && this.liveCount > 0) void this.#pull()
  }

  async #pull(): Promise<void> {
    this.#pulling = true
    try {
      this.#iterator ??= this.#open()
      const next = await this.#iterator.next()
      if (this.#closed) return
      if (next.done === true) this.#ended = true
      else this.#buffer.push(next.value)
    } catch (error) {
      if (!this.#closed) this.#failure = { error }
    } finally {
      this.#pulling = false
      this.#wake()
      this.#fill()
    }
  }

  /** Forgets the chunks every live consumer has taken, and wakes waiting consumers. */
  #trim(): void {
    const live = this.#positions.filter((_, i) => this.#detached[i] !== true)
    const slowest = live.length === 0 ? this.#base + this.#buffer.length : Math.min(...live)
    while (this.#base < slowest) {
      this.#buffer.shift()
      this.#base += 1
    }
    this.#wake()
  }

  #wake(): void {
    const waiters = this.#waiters
    this.#waiters = []
    for (const wake of waiters) wake()
  }

  #close(): void {
    this.#closed = true
    this.#buffer.length = 0
    const causes = [...this.causes.values()]
    const reason = new FanOutError('FAN_OUT_ALL_FAILED', 'every consumer of the export left', {
      errors: causes,
    })
    // Both are best effort: the source's own reader reports its errors, a close has nobody to tell.
    void Promise.resolve()
      .then(() => this.#options.close?.(reason))
      .catch(() => undefined)
    void this.#iterator?.return?.().catch(() => undefined)
    this.#wake()
  }
}

function checkCount(count: number): void {
  if (!Number.isInteger(count) || count < 1)
    throw new FanOutError('FAN_OUT_BAD_ARGUMENT', `fan-out: expected a consumer count >= 1, got ${count}`)
}

function consumerIterable<T>(splitter: Splitter<T>, index: number): AsyncIterable<T> {
  let taken = false
  return {
    [Symbol.asyncIterator]() {
      if (taken)
        throw new FanOutError('FAN_OUT_ITERATED_TWICE', `fan-out consumer ${index} is iterated twice`)
      taken = true
      const iterator: AsyncIterableIterator<T> = {
        next: () => splitter.next(index),
        // `break` or a throw in the consumer's loop: it stops pacing the others (its owner reports why).
        return: () => {
          splitter.detach(index, undefined)
          return Promise.resolve({ done: true, value: undefined })
        },
        [Symbol.asyncIterator]: () => iterator,
      }
      return iterator
    },
  }
}

function fanOutOf<T, C>(
  open: () => AsyncIterator<T>,
  count: number,
  options: FanOutOptions,
  view: (iterable: AsyncIterable<T>) => C,
): FanOut<C> {
  checkCount(count)
  const bufferChunks = options.bufferChunks ?? 1
  if (!Number.isInteger(bufferChunks) || bufferChunks < 1)
    throw new FanOutError('FAN_OUT_BAD_ARGUMENT', `fan-out: expected bufferChunks >= 1, got ${bufferChunks}`)
  const splitter = new Splitter(open, count, options)
  return {
    consumers: Array.from({ length: count }, (_, i) => view(consumerIterable(splitter, i))),
    drop: (index, error) => {
      splitter.detach(index, error)
    },
    causes: splitter.causes,
    get liveCount() {
      return splitter.liveCount
    },
  }
}

/**
 * Splits a byte stream into `count` consumer streams of the same chunks (chunks are shared: a
 * consumer must not modify them). The source is read lazily, on the first consumer read.
 */
export function fanOut(
  source: AsyncIterable<Uint8Array>,
  count: number,
  options: FanOutOptions = {},
): FanOut<AsyncIterable<Uint8Array>> {
  return fanOutOf(
    () => source[Symbol.asyncIterator](),
    count,
    options,
    (iterable) => iterable,
  )
}

/**
 * Splits a block source into `count` block sources with the same size, block size and
 * blockIndexes (known before any read); `blocks()` of each may be called once, and `source.blocks()`
 * is called once, lazily. Blocks are shared: a consumer must not modify them.
 */
export function fanOutBlockSource(
  source: BlockSource,
  count: number,
  options: FanOutOptions = {},
): FanOut<BlockSource> {
  return fanOutOf<DiskBlock, BlockSource>(
    () => source.blocks()[Symbol.asyncIterator](),
    count,
    options,
    (iterable) => ({
      virtualSize: source.virtualSize,
      blockSize: source.blockSize,
      blockIndexes: source.blockIndexes,
      blocks: () => iterable,
    }),
  )
}

/**
 * Runs `work` on every consumer of `fan` at once: a rejection drops that consumer with its error
 * (`onDrop` is told), a consumer that returns stops pacing the others. Resolves with each outcome
 * once all are settled; when every one failed, throws FAN_OUT_ALL_FAILED with every distinct cause.
 */
export async function runConsumers<C, R>(
  fan: FanOut<C>,
  work: (consumer: C, index: number) => Promise<R>,
): Promise<ConsumerOutcome<R>[]> {
  const outcomes = await Promise.all(
    fan.consumers.map(async (consumer, index): Promise<ConsumerOutcome<R>> => {
      try {
        const value = await work(consumer, index)
        fan.drop(index)
        return { ok: true, value }
      } catch (error) {
        fan.drop(index, error)
        return { ok: false, error }
      }
    }),
  )
  const errors = [...new Set(outcomes.flatMap((o) => (o.ok ? [] : [o.error])))]
  if (outcomes.every((o) => !o.ok)) {
    const summary = errors.map((e) => (e instanceof Error ? e.message : String(e))).join('; ')
    throw new FanOutError('FAN_OUT_ALL_FAILED', `every consumer failed: ${summary}`, { errors })
  }
  return outcomes
}
