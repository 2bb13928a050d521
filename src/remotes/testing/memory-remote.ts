import { Readable } from 'node:stream'
import type { Clock } from '../../shared/clock.ts'
import { systemClock } from '../../shared/clock.ts'
import { acquireCasLease } from '../cas-lease-lock.ts'
import type { VersionedStore } from '../cas-lease-lock.ts'
import { RemoteError } from '../remote-error.ts'
import type {
  ListOptions,
  LockHandle,
  LockOptions,
  ReadOptions,
  Remote,
  RemoteCapabilities,
  RemoteEntry,
  RemoteInfo,
  WriteOptions,
  WriteSource,
} from '../remote.ts'
import { checkRemotePath } from '../remote-path.ts'
import { checkedChunks, checkRange, checkStartWithin, sourceChunks } from '../byte-streams.ts'

interface StoredFile {
  readonly data: Buffer
  readonly modifiedMs: number
  /** Changes on every write, like an S3 ETag (compare-and-swap for leases). */
  readonly version: number
}

/** Runs `fn` so that a synchronous throw becomes a rejection (the port never throws synchronously). */
const settle = <T>(fn: () => T): Promise<T> =>
  new Promise<T>((resolve) => {
    resolve(fn())
  })

const notFound = (op: string, path: string): RemoteError =>
  new RemoteError('NOT_FOUND', `${op} ${JSON.stringify(path)}: no such file`, {
    details: { operation: op, path },
  })

/**
 * A Remote kept in a Map, for tests: writes are buffered whole then published at once, conditional
 * create is atomic (one event loop), locks are compare-and-swap leases. `files` exposes the
 * content for assertions.
 */
export class MemoryRemote implements Remote {
  readonly capabilities: RemoteCapabilities = {
    atomicRename: true,
    conditionalCreate: true,
    locking: 'exclusive',
    readOnly: false,
  }
  readonly description = 'memory:'
  readonly files = new Map<string, StoredFile>()
  readonly #clock: Clock
  #versions = 0

  constructor(options: { clock?: Clock } = {}) {
    this.#clock = options.clock ?? systemClock
  }

  read(path: string, options: ReadOptions = {}): Promise<Readable> {
    return settle(() => {
      checkRemotePath(path)
      const { start, end } = checkRange(path, options)
      const file = this.files.get(path)
      if (file === undefined) throw notFound('read', path)
      checkStartWithin(path, start, file.data.byteLength)
      const slice = file.data.subarray(
        start,
        end === undefined ? undefined : Math.min(end, file.data.byteLength),
      )
      return Readable.from(slice.byteLength === 0 ? [] : [Buffer.from(slice)])
    })
  }

  async write(path: string, source: WriteSource, options: WriteOptions = {}): Promise<void> {
    checkRemotePath(path)
    options.signal?.throwIfAborted()
    const chunks: Uint8Array[] = []
    for await (const chunk of checkedChunks(sourceChunks(source), path, options.sizeBytes)) {
      options.signal?.throwIfAborted()
      chunks.push(Buffer.from(chunk))
    }
    if (options.ifAbsent === true && this.files.has(path)) {
      throw new RemoteError('ALREADY_EXISTS', `write ${JSON.stringify(path)}: file exists`, {
        details: { path },
      })
    }
    this.#set(path, Buffer.concat(chunks))
  }

  #set(path: string, data: Buffer): number {
    const version = ++this.#versions
    this.files.set(path, { data, modifiedMs: this.#clock.now(), version })
    return version
  }

  stat(path: string): Promise<RemoteEntry> {
    return settle(() => {
      checkRemotePath(path)
      const file = this.files.get(path)
      if (file === undefined) throw notFound('stat', path)
      return { path, kind: 'file', sizeBytes: file.data.byteLength, modifiedMs: file.modifiedMs }
    })
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncGenerator<RemoteEntry> {
    checkRemotePath(prefix, true)
    const base = prefix === '' ? '' : `${prefix}/`
    const directories = new Set<string>()
    for (const [path, file] of [...this.files].sort(([a], [b]) => (a < b ? -1 : 1))) {
      options.signal?.throwIfAborted()
      if (!path.startsWith(base)) continue
      const rest = path.slice(base.length)
      const slash = rest.indexOf('/')
      if (options.recursive === true || slash === -1) {
        yield await Promise.resolve({
          path,
          kind: 'file' as const,
          sizeBytes: file.data.byteLength,
          modifiedMs: file.modifiedMs,
        })
      } else if (!directories.has(rest.slice(0, slash))) {
        directories.add(rest.slice(0, slash))
        yield { path: base + rest.slice(0, slash), kind: 'directory', sizeBytes: 0 }
      }
    }
  }

  delete(path: string): Promise<void> {
    return settle(() => {
      this.files.delete(checkRemotePath(path))
    })
  }

  deleteMany(paths: readonly string[]): Promise<void> {
    return settle(() => {
      for (const path of paths) checkRemotePath(path)
      for (const path of paths) this.files.delete(path)
    })
  }

  rename(from: string, to: string): Promise<void> {
    return settle(() => {
      checkRemotePath(from)
      checkRemotePath(to)
      const file = this.files.get(from)
      if (file === undefined) throw notFound('rename', from)
      this.files.delete(from)
      this.#set(to, file.data)
    })
  }

  lock(path: string, options: LockOptions): Promise<LockHandle> {
    return acquireCasLease(this.#versioned, path, options.ttlMs, this.#clock)
  }

  // Compare-and-swap on one file, atomic since the event loop runs one step at a time.
  readonly #versioned: VersionedStore = {
    readVersioned: (path) => {
      const file = this.files.get(path)
      return Promise.resolve(
        file === undefined ? undefined : { data: file.data, version: String(file.version) },
      )
    },
    replaceIf: (path, data, version) => {
      const current = this.files.get(path)
      if ((current === undefined ? undefined : String(current.version)) !== version)
        return Promise.resolve(undefined)
      return Promise.resolve(String(this.#set(path, Buffer.from(data))))
    },
    deleteIf: (path, version) => {
      const same = String(this.files.get(path)?.version) === version
      if (same) this.files.delete(path)
      return Promise.resolve(same)
    },
  }

  info(): Promise<RemoteInfo> {
    let usedBytes = 0
    for (const file of this.files.values()) usedBytes += file.data.byteLength
    return Promise.resolve({ usedBytes })
  }
}
