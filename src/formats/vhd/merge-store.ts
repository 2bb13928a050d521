import { randomBytes } from 'node:crypto'
import { open, rename, rm, stat } from 'node:fs/promises'
import { dirname, posix } from 'node:path'
import { confinePath, resolveReference } from '../../shared/confine.ts'
import { LocalFile } from './random-access-file.ts'
import type { RandomAccessFile } from './random-access-file.ts'

/** Options of MergeStore.confine. */
export interface MergeConfineOptions {
  /** Accept a path that does not exist (its existing folders are still checked). */
  readonly allowMissing?: boolean
}

/**
 * What a merge needs from the place the VHDs live: random access to files, whole-file operations,
 * and the confinement check it runs on every path before opening, renaming or deleting it.
 */
export interface MergeStore {
  /**
   * Proves that `path` lies under the folder `scope` (both store paths) and is a regular file
   * reached without any symlink (or, with `allowMissing`, absent), through src/shared/confine.ts;
   * throws PathError (PATH_ESCAPE, PATH_SYMLINK, PATH_NOT_REGULAR, PATH_MISSING, PATH_INVALID).
   */
  confine(path: string, scope: string, options?: MergeConfineOptions): Promise<void>
  open(path: string, mode: 'read' | 'write'): Promise<RandomAccessFile>
  /** The file's bytes, or undefined when it does not exist. */
  readFile(path: string): Promise<Uint8Array | undefined>
  /** Replaces `path` atomically and durably (temp file, fsync, rename, fsync of the directory). */
  writeFile(path: string, data: Uint8Array): Promise<void>
  exists(path: string): Promise<boolean>
  /** Atomically replaces `to` with `from`. */
  rename(from: string, to: string): Promise<void>
  /** Deletes `path`; a missing file is not an error. */
  delete(path: string): Promise<void>
}

async function syncDirectory(path: string): Promise<void> {
  const handle = await open(dirname(path), 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/**
 * A MergeStore over the local file system (paths as given, absolute or relative to the working
 * directory); `confine` takes `scope` itself as the root: symlinks above it are the caller's choice.
 */
export const localMergeStore: MergeStore = {
  async confine(path, scope, options = {}) {
    // The path relative to the scope, refused by the gate when it leaves it (PATH_ESCAPE).
    const inScope = resolveReference('', posix.relative(posix.resolve(scope), posix.resolve(path)))
    await confinePath(scope, inScope, { symlinks: 'refuse', type: 'file', ...options })
  },
  open: (path, mode) => LocalFile.open(path, mode),
  async readFile(path) {
    try {
      const file = await LocalFile.open(path)
      try {
        return await file.read(0, await file.size())
      } finally {
        await file.close()
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw error
    }
  },
  async writeFile(path, data) {
    const temp = `${path}.${randomBytes(4).toString('hex')}.tmp`
    const file = await LocalFile.open(temp, 'create')
    try {
      await file.write(0, data)
      await file.sync()
    } finally {
      await file.close()
    }
    await rename(temp, path)
    await syncDirectory(path)
  },
  async exists(path) {
    try {
      await stat(path)
      return true
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false
      throw error
    }
  },
  async rename(from, to) {
    await rename(from, to)
    await syncDirectory(to)
  },
  async delete(path) {
    await rm(path, { force: true })
  },
}
