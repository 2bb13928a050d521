import { open } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { BackupError } from '../../shared/errors.ts'
import type { TaskEvent, TaskSink } from '../events.ts'

/**
 * Appends events to a JSONL file, one event a line. `write` never blocks: lines queue in memory
 * and are appended by one writer in batches, so a burst of events costs one system call. A crash
 * loses at most the queued tail and may cut the last line; the reader tolerates both.
 * Call `close()` to flush, fsync and release the file.
 */
export class JsonlFileSink implements TaskSink {
  readonly path: string
  #handle: FileHandle
  #queue: string[] = []
  #flushing: Promise<void> | undefined
  #error: unknown
  #closed = false

  private constructor(path: string, handle: FileHandle) {
    this.path = path
    this.#handle = handle
  }

  /**
   * Opens `path` for appending (created if missing). If a previous writer crashed mid-line, a
   * newline is written first so the next event starts a line of its own.
   */
  static async open(path: string): Promise<JsonlFileSink> {
    const handle = await open(path, 'a+')
    try {
      const { size } = await handle.stat()
      if (size > 0) {
        const last = Buffer.alloc(1)
        await handle.read(last, 0, 1, size - 1)
        if (last[0] !== 0x0a) await handle.appendFile('\n')
      }
    } catch (error) {
      await handle.close()
      throw error
    }
    return new JsonlFileSink(path, handle)
  }

  write(event: TaskEvent): void {
    if (this.#closed) throw new BackupError('SINK_CLOSED', `task log ${this.path} is closed`)
    this.#queue.push(`${JSON.stringify(event)}\n`)
    this.#flushing ??= this.#drain()
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0 && this.#error === undefined) {
        const batch = this.#queue.join('')
        this.#queue = []
        await this.#handle.appendFile(batch)
      }
    } catch (error) {
      // Logging must never crash the run it describes; the error is reported by flush/close.
      this.#error = error
      this.#queue = []
    } finally {
      this.#flushing = undefined
    }
  }

  /** Resolves once every event written so far is in the file; rejects if an append failed. */
  async flush(): Promise<void> {
    while (this.#flushing !== undefined) await this.#flushing
    if (this.#error !== undefined) {
      throw new BackupError('TASK_LOG_WRITE_FAILED', `cannot append to task log ${this.path}`, {
        cause: this.#error,
      })
    }
  }

  /** Flushes, fsyncs and closes the file; later writes throw SINK_CLOSED. */
  async close(): Promise<void> {
    if (this.#closed) return
    try {
      await this.flush()
      await this.#handle.sync()
    } finally {
      this.#closed = true
      await this.#handle.close()
    }
  }
}
