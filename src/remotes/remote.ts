// The Remote port (architecture.md §5, style-anchors.md §2.4): the whole byte-store contract that
// the repository layer relies on. Every implementation passes remotes/testing/conformance.ts.
// Contract details, atomicity and locking arguments: docs/remotes.md.
import type { Readable } from 'node:stream'

/** What a remote can promise; callers branch on these, never on the implementation's type. */
export interface RemoteCapabilities {
  /** `rename` replaces the target in one step (filesystems); false when it is copy + delete (S3). */
  readonly atomicRename: boolean
  /** `write(…, {ifAbsent: true})` is atomic against concurrent writers (else check-then-write). */
  readonly conditionalCreate: boolean
  /** Locks exclude other holders reliably ('exclusive') or only when nobody races ('best-effort'). */
  readonly locking: 'exclusive' | 'best-effort'
  /** Every mutating call throws READ_ONLY. */
  readonly readOnly: boolean
}

/** A file of a remote (or, in non-recursive listings, a directory: a common prefix on S3). */
export interface RemoteEntry {
  /** Relative `/`-separated path from the remote's root. */
  readonly path: string
  readonly kind: 'file' | 'directory'
  /** Size of a file; 0 for a directory. */
  readonly sizeBytes: number
  /** Last modification in epoch ms when the backend knows it. */
  readonly modifiedMs?: number
}

/** What `write` accepts: bytes (replayable, so retryable), an async iterable or a Node stream. */
export type WriteSource = Uint8Array | AsyncIterable<Uint8Array> | Readable

/** Options of `Remote.write`. */
export interface WriteOptions {
  /** Expected length; a source of another length fails with SIZE_MISMATCH and publishes nothing. */
  readonly sizeBytes?: number
  /** Fail with ALREADY_EXISTS instead of replacing an existing file (see `conditionalCreate`). */
  readonly ifAbsent?: boolean
  readonly signal?: AbortSignal
}

/** Options of `Remote.read`: byte range `[start, end)` — `end` is exclusive, like `slice`. */
export interface ReadOptions {
  /** First byte (default 0); `start` equal to the size gives an empty stream, beyond it INVALID_RANGE. */
  readonly start?: number
  /** One past the last byte (default: the size); clamped to the size. */
  readonly end?: number
  readonly signal?: AbortSignal
}

/** Options of `Remote.list`. */
export interface ListOptions {
  /** Every file below the prefix at any depth (files only), instead of its direct children. */
  readonly recursive?: boolean
  readonly signal?: AbortSignal
}

/** Options of `Remote.lock`. */
export interface LockOptions {
  /** How long the lock stays valid without `refresh`; after that others may break it as stale. */
  readonly ttlMs: number
}

/** A held lock; `release` is idempotent and never removes a lock someone else took over. */
export interface LockHandle {
  /** The locked path (the lock itself lives at `<path>.lock`). */
  readonly path: string
  /** Random token identifying this holder. */
  readonly owner: string
  /** Extends the lease by `ttlMs` from now; throws LOCK_LOST if another holder took it over. */
  refresh(): Promise<void>
  release(): Promise<void>
}

/** Space figures of a remote; absent fields are unknown (S3 has no notion of free space). */
export interface RemoteInfo {
  readonly totalBytes?: number
  readonly freeBytes?: number
  readonly usedBytes?: number
}

/**
 * A byte store addressed by relative paths (validated by `checkRemotePath`): ranged reads,
 * atomically published writes, listing, deletion, rename and locks. Errors are RemoteError with a
 * stable code; a missing file is NOT_FOUND for `read`/`stat`/`rename` and silently fine for `delete`.
 */
export interface Remote {
  readonly capabilities: RemoteCapabilities
  /** A display form of the remote without credentials (for logs and errors). */
  readonly description: string
  /** Opens `[start, end)` of a file as a stream; NOT_FOUND when it does not exist. */
  read(path: string, options?: ReadOptions): Promise<Readable>
  /** Publishes the whole source under `path` at once: readers see the old file or the new one. */
  write(path: string, source: WriteSource, options?: WriteOptions): Promise<void>
  /** The entry of a file; NOT_FOUND when missing or when the path is a directory. */
  stat(path: string): Promise<RemoteEntry>
  /** Entries below the directory `prefix` ('' = root), in no particular order; empty when missing. */
  list(prefix: string, options?: ListOptions): AsyncIterable<RemoteEntry>
  /** Removes a file; a missing file is not an error. */
  delete(path: string): Promise<void>
  /** Removes many files (batched where the backend can); missing files are not errors. */
  deleteMany(paths: readonly string[]): Promise<void>
  /** Moves a file, replacing the target; see `capabilities.atomicRename`. */
  rename(from: string, to: string): Promise<void>
  /** Takes the lock of `path` or throws LOCKED naming the holder; see `capabilities.locking`. */
  lock(path: string, options: LockOptions): Promise<LockHandle>
  /** Free/total space where the backend knows it. */
  info(): Promise<RemoteInfo>
  /**
   * Optional fast path for many ranged reads of one file (local and mounted remotes): the file held
   * open, positioned reads into the caller's buffer. The caller must close it. A remote without it
   * (S3, a wrapper that changes reads) is read with `read`.
   */
  openReader?(path: string): Promise<RemoteReader>
}

/** A file of a remote held open for positioned reads (Remote.openReader). */
export interface RemoteReader {
  /** The file's size when it was opened. */
  readonly sizeBytes: number
  /** Reads into `target` from `offset`, up to its length (fewer only at the end); returns the count. */
  readInto(offset: number, target: Uint8Array): Promise<number>
  close(): Promise<void>
}
