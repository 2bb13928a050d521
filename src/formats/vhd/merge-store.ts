import { randomBytes } from 'node:crypto'
import { open, rename, rm, stat } from 'node:fs/promises'
import { dirname } from 'node:path'
import { LocalFile } from './random-access-file.ts'
import type { RandomAccessFile } from './random-access-file.ts'

/** What a merge needs from the place the VHDs live: random access to files, and whole-file operations. */
export interface MergeStore {
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

/** A MergeStore over the local file system (paths as given). */
export const localMergeStore: MergeStore = {
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
