import { Readable } from 'node:stream'
import { RemoteError } from '../remote-error.ts'
import type { RemoteErrorCode } from '../remote-error.ts'
import type {
  ListOptions,
  Remote,
  RemoteCapabilities,
  RemoteEntry,
  WriteOptions,
  WriteSource,
} from '../remote.ts'
import { checkRemotePath } from '../remote-path.ts'
import { collectStream, sourceChunks } from '../byte-streams.ts'

/** Operation names of the port, as counted by FaultRemote. */
export type RemoteOperation =
  'read' | 'write' | 'stat' | 'list' | 'delete' | 'deleteMany' | 'rename' | 'lock' | 'info'

/** What FaultRemote breaks; every field is optional and the empty plan passes everything through. */
export interface FaultPlan {
  /** Fail the `nth` (1-based) call of `operation` (any operation if absent), `times` calls in a row. */
  readonly failOperation?: {
    readonly nth: number
    readonly operation?: RemoteOperation
    readonly code?: RemoteErrorCode
    readonly times?: number
  }
  /** Writes stop after this many bytes and fail; with `publishPartial` the cut prefix is published first (a non-atomic store). */
  readonly cutWriteAfterBytes?: number
  readonly publishPartial?: boolean
  /** Read streams fail with ECONNRESET after this many bytes (each opened stream). */
  readonly cutReadAfterBytes?: number
  /** rename = write a copy to the target, then delete the source; `crashAfterCopy` fails in between. */
  readonly nonAtomicRename?: boolean
  readonly crashAfterCopy?: boolean
  /** Listings silently lose entries `[page * pageSize, (page + 1) * pageSize)`. */
  readonly loseListingPage?: { readonly pageSize: number; readonly page: number }
}

/**
 * A Remote wrapper for tests that injects the faults of a FaultPlan (replaceable with `setPlan`)
 * and counts calls per operation; with an empty plan it behaves exactly like `inner`.
 */
export class FaultRemote implements Remote {
  readonly counts = new Map<RemoteOperation, number>()
  #calls = 0
  #plan: FaultPlan
  readonly #inner: Remote

  constructor(inner: Remote, plan: FaultPlan = {}) {
    this.#inner = inner
    this.#plan = plan
  }

  get capabilities(): RemoteCapabilities {
    const atomicRename = this.#inner.capabilities.atomicRename && this.#plan.nonAtomicRename !== true
    return { ...this.#inner.capabilities, atomicRename }
  }

  get description(): string {
    return `faulty ${this.#inner.description}`
  }

  /** Replaces the plan and resets the call counters. */
  setPlan(plan: FaultPlan): void {
    this.#plan = plan
    this.#calls = 0
    this.counts.clear()
  }

  #enter(operation: RemoteOperation, path: string): void {
    this.#calls++
    const count = (this.counts.get(operation) ?? 0) + 1
    this.counts.set(operation, count)
    const fail = this.#plan.failOperation
    if (fail === undefined) return
    const index = fail.operation === undefined ? this.#calls : fail.operation === operation ? count : 0
    if (index >= fail.nth && index < fail.nth + (fail.times ?? 1)) {
      throw new RemoteError(
        fail.code ?? 'UNAVAILABLE',
        `${operation} ${JSON.stringify(path)}: injected fault (call ${index})`,
        {
          details: { operation, path, injected: true },
        },
      )
    }
  }

  async read(path: string, options?: Parameters<Remote['read']>[1]): Promise<Readable> {
    this.#enter('read', path)
    const stream = await this.#inner.read(path, options)
    const cut = this.#plan.cutReadAfterBytes
    return cut === undefined ? stream : Readable.from(cutAfter(stream, cut, readCut), { objectMode: false })
  }

  async write(path: string, source: WriteSource, options: WriteOptions = {}): Promise<void> {
    this.#enter('write', path)
    const cut = this.#plan.cutWriteAfterBytes
    if (cut === undefined) return this.#inner.write(path, source, options)
    checkRemotePath(path)
    if (this.#plan.publishPartial === true) {
      const partial = await collectStream(cutAfter(sourceChunks(source), cut))
      await this.#inner.write(path, partial)
      throw writeCut(path, cut)
    }
    return this.#inner.write(
      path,
      cutAfter(sourceChunks(source), cut, () => writeCut(path, cut)),
      options,
    )
  }

  async stat(path: string): Promise<RemoteEntry> {
    this.#enter('stat', path)
    return this.#inner.stat(path)
  }

  async *list(prefix: string, options?: ListOptions): AsyncGenerator<RemoteEntry> {
    this.#enter('list', prefix)
    const lose = this.#plan.loseListingPage
    let index = 0
    for await (const entry of this.#inner.list(prefix, options)) {
      const page = lose === undefined ? -1 : Math.floor(index / lose.pageSize)
      index++
      if (page !== lose?.page) yield entry
    }
  }

  async delete(path: string): Promise<void> {
    this.#enter('delete', path)
    return this.#inner.delete(path)
  }

  async deleteMany(paths: readonly string[]): Promise<void> {
    this.#enter('deleteMany', paths[0] ?? '')
    return this.#inner.deleteMany(paths)
  }

  async rename(from: string, to: string): Promise<void> {
    this.#enter('rename', from)
    if (this.#plan.nonAtomicRename !== true) return this.#inner.rename(from, to)
    checkRemotePath(to)
    await this.#inner.write(to, await this.#inner.read(from))
    if (this.#plan.crashAfterCopy === true)
      throw new RemoteError('UNAVAILABLE', `rename ${JSON.stringify(from)}: injected crash after the copy`)
    await this.#inner.delete(from)
  }

  async lock(path: string, options: Parameters<Remote['lock']>[1]) {
    this.#enter('lock', path)
    return this.#inner.lock(path, options)
  }

  async info() {
    this.#enter('info', '')
    return this.#inner.info()
  }
}

const readCut = (): Error => Object.assign(new Error('injected connection reset'), { code: 'ECONNRESET' })

const writeCut = (path: string, bytes: number): RemoteError =>
  new RemoteError('UNAVAILABLE', `write ${JSON.stringify(path)}: injected cut after ${bytes} bytes`, {
    details: { path, bytes },
  })

/** Yields the first `limit` bytes of `source`, then throws `fail()` if more were coming (ends quietly without `fail`). */
async function* cutAfter(
  source: AsyncIterable<Uint8Array>,
  limit: number,
  fail?: () => Error,
): AsyncGenerator<Uint8Array> {
  let seen = 0
  for await (const chunk of source) {
    const room = limit - seen
    if (chunk.byteLength > room) {
      if (room > 0) yield chunk.subarray(0, room)
      if (fail === undefined) return
      throw fail()
    }
    seen += chunk.byteLength
    yield chunk
  }
}
