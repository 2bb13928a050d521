import { createReadStream } from 'node:fs'
import type { Dirent } from 'node:fs'
import { mkdir, open, opendir, realpath, rename, stat, statfs } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { Readable } from 'node:stream'
import type { Clock } from '../../shared/clock.ts'
import { systemClock } from '../../shared/clock.ts'
import { errorCode } from '../../shared/errors.ts'
import { RemoteError, toRemoteError } from '../remote-error.ts'
import type {
  ListOptions,
  LockHandle,
  LockOptions,
  ReadOptions,
  Remote,
  RemoteCapabilities,
  RemoteEntry,
  RemoteInfo,
  RemoteReader,
  WriteOptions,
  WriteSource,
} from '../remote.ts'
import { checkRemotePath, joinRemotePath } from '../remote-path.ts'
import { checkedChunks, checkRange, checkStartWithin, sourceChunks } from '../byte-streams.ts'
import { confinePath } from './confine.ts'

const STAT_BATCH = 64
import { lockDirectory } from './local-lock.ts'
import { publishFile, removeIfPresent, syncDirectory } from './local-fs.ts'

const notAFile = (op: string, path: string): RemoteError =>
  new RemoteError('NOT_FOUND', `${op} ${JSON.stringify(path)}: is a directory, not a file`, {
    details: { operation: op, path },
  })

/**
 * A Remote on a local directory (or a mounted NFS/SMB share): writes go to `.<name>.<rand>.tmp`
 * beside the target, are fsynced, then renamed (or linked for `ifAbsent`) and the directory
 * fsynced; locks are `<path>.lock` directories. Open with `openLocalRemote`.
 */
export class LocalRemote implements Remote {
  readonly capabilities: RemoteCapabilities = {
    atomicRename: true,
    conditionalCreate: true,
    locking: 'exclusive',
    readOnly: false,
  }
  readonly description: string
  readonly #root: string
  readonly #clock: Clock

  /** `realRoot` must be the realpath of an existing directory (see `openLocalRemote`). */
  constructor(realRoot: string, options: { clock?: Clock } = {}) {
    this.#root = realRoot
    this.#clock = options.clock ?? systemClock
    this.description = `file://${realRoot}`
  }

  async #run<T>(
    op: string,
    path: string,
    fn: (absolute: string) => Promise<T>,
    allowRoot = false,
  ): Promise<T> {
    try {
      return await fn(await confinePath(this.#root, path, allowRoot))
    } catch (error) {
      throw toRemoteError(error, op, path)
    }
  }

  read(path: string, options: ReadOptions = {}): Promise<Readable> {
    return this.#run('read', path, async (absolute) => {
      const { start, end } = checkRange(path, options)
      const handle = await open(absolute, 'r')
      try {
        const info = await handle.stat()
        if (info.isDirectory()) throw notAFile('read', path)
        checkStartWithin(path, start, info.size)
        const stop = Math.min(end ?? info.size, info.size)
        if (stop <= start) {
          await handle.close()
          return Readable.from([])
        }
        // createReadStream's `end` is inclusive; ours is exclusive (remote.ts ReadOptions).
        return createReadStream('', {
          fd: handle,
          start,
          end: stop - 1,
          highWaterMark: 1 << 20,
          ...(options.signal === undefined ? {} : { signal: options.signal }),
        })
      } catch (error) {
        await handle.close()
        throw error
      }
    })
  }

  openReader(path: string): Promise<RemoteReader> {
    return this.#run('read', path, async (absolute) => {
      const handle = await open(absolute, 'r')
      try {
        const info = await handle.stat()
        if (!info.isFile()) throw notAFile('read', path)
        const sizeBytes = info.size
        return {
          sizeBytes,
          readInto: async (offset, target) => {
            checkStartWithin(path, offset, sizeBytes)
            const want = Math.max(0, Math.min(target.length, sizeBytes - offset))
            let done = 0
            while (done < want) {
              const { bytesRead } = await handle.read(target, done, want - done, offset + done)
              if (bytesRead === 0) break
              done += bytesRead
            }
            return done
          },
          close: () => handle.close(),
        }
      } catch (error) {
        await handle.close()
        throw error
      }
    })
  }

  write(path: string, source: WriteSource, options: WriteOptions = {}): Promise<void> {
    return this.#run('write', path, async (absolute) => {
      options.signal?.throwIfAborted()
      const chunks = checkedChunks(sourceChunks(source), path, options.sizeBytes)
      await publishFile(absolute, chunks, { ifAbsent: options.ifAbsent === true, signal: options.signal })
    })
  }

  stat(path: string): Promise<RemoteEntry> {
    return this.#run('stat', path, async (absolute) => {
      const info = await stat(absolute)
      if (!info.isFile()) throw notAFile('stat', path)
      return { path, kind: 'file', sizeBytes: info.size, modifiedMs: info.mtimeMs }
    })
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncGenerator<RemoteEntry> {
    const absolute = await this.#run('list', prefix, (a) => Promise.resolve(a), true)
    yield* this.#walk(absolute, prefix, options)
  }

  async *#walk(absolute: string, prefix: string, options: ListOptions): AsyncGenerator<RemoteEntry> {
    let dir
    try {
      dir = await opendir(absolute, { bufferSize: 256 })
    } catch (error) {
      if (errorCode(error) === 'ENOENT' || errorCode(error) === 'ENOTDIR') return
      throw toRemoteError(error, 'list', prefix)
    }
    // Stats run a batch at a time: a folder of 10 000 backups is not 10 000 sequential round trips.
    let batch: Dirent[] = []
    for await (const dirent of dir) {
      batch.push(dirent)
      if (batch.length < STAT_BATCH) continue
      yield* this.#visit(absolute, prefix, batch, options)
      batch = []
    }
    yield* this.#visit(absolute, prefix, batch, options)
  }

  async *#visit(
    absolute: string,
    prefix: string,
    dirents: readonly Dirent[],
    options: ListOptions,
  ): AsyncGenerator<RemoteEntry> {
    options.signal?.throwIfAborted()
    const entries = await Promise.all(
      dirents.map((d) => this.#entry(joinRemotePath(prefix, d.name), d.isSymbolicLink())),
    )
    for (const [i, entry] of entries.entries()) {
      const dirent = dirents[i]
      if (entry === undefined || dirent === undefined) continue
      if (entry.kind === 'file' || options.recursive !== true) yield entry
      // Symlinked directories are listed but not walked: no loops, no double counting.
      else if (!dirent.isSymbolicLink()) yield* this.#walk(join(absolute, dirent.name), entry.path, options)
    }
  }

  async #entry(path: string, isLink: boolean): Promise<RemoteEntry | undefined> {
    try {
      const absolute = isLink ? await confinePath(this.#root, path) : join(this.#root, path)
      const info = await stat(absolute)
      if (info.isDirectory()) return { path, kind: 'directory', sizeBytes: 0, modifiedMs: info.mtimeMs }
      if (info.isFile()) return { path, kind: 'file', sizeBytes: info.size, modifiedMs: info.mtimeMs }
      return undefined
    } catch (error) {
      // Vanished since readdir, a dangling link, or a link leaving the root: not an entry.
      if (errorCode(error) === 'ENOENT' || errorCode(error) === 'INVALID_PATH') return undefined
      throw toRemoteError(error, 'list', path)
    }
  }

  delete(path: string): Promise<void> {
    return this.#run('delete', path, removeIfPresent)
  }

  async deleteMany(paths: readonly string[]): Promise<void> {
    // Validate every path before deleting anything: one hostile name must not half-apply a batch.
    for (const path of paths) checkRemotePath(path)
    for (const path of paths) await this.delete(path)
  }

  rename(from: string, to: string): Promise<void> {
    return this.#run('rename', from, async (source) => {
      const target = await confinePath(this.#root, to)
      const info = await stat(source)
      if (!info.isFile()) throw notAFile('rename', from)
      await mkdir(dirname(target), { recursive: true })
      await rename(source, target)
      await syncDirectory(dirname(target))
      if (dirname(source) !== dirname(target)) await syncDirectory(dirname(source))
    })
  }

  lock(path: string, options: LockOptions): Promise<LockHandle> {
    return this.#run('lock', path, (absolute) => lockDirectory(absolute, path, options.ttlMs, this.#clock))
  }

  async info(): Promise<RemoteInfo> {
    const fs = await statfs(this.#root)
    const totalBytes = fs.blocks * fs.bsize
    return { totalBytes, freeBytes: fs.bavail * fs.bsize, usedBytes: totalBytes - fs.bfree * fs.bsize }
  }
}

/** Opens the directory `root` (which must exist) as a LocalRemote; NOT_FOUND otherwise. */
export async function openLocalRemote(root: string, options: { clock?: Clock } = {}): Promise<LocalRemote> {
  try {
    const real = await realpath(root)
    if (!(await stat(real)).isDirectory()) throw new RemoteError('NOT_FOUND', `${root} is not a directory`)
    return new LocalRemote(real, options)
  } catch (error) {
    throw toRemoteError(error, 'open', root)
  }
}
