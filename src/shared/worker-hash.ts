// A hash computed on a worker thread, so that hashing a multi-GiB stream (the MD5 of a full backup's
// XVA, at ~600 MB/s the main thread's biggest single cost) runs beside the transfer instead of
// inside it. Chunks are copied into a ring of shared memory (a source may reuse a chunk's memory),
// which the worker hashes in place: memory is the ring, whatever the stream's size, and nothing is
// allocated per chunk.
import { Worker } from 'node:worker_threads'

/** Size of the shared ring: bytes copied for the worker and not yet hashed, at most. */
export const RING_BYTES = 8 * 1024 * 1024

// CommonJS evaluated as is: no loader (tsx) in the worker, nothing to resolve from a built tree.
// Messages: [offset, length] to hash that part of the ring (acknowledged with the length), null
// for the digest.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const { createHash } = require('node:crypto')
const hash = createHash(workerData.algorithm)
const ring = new Uint8Array(workerData.ring)
parentPort.on('message', (message) => {
  if (message === null) parentPort.postMessage({ digest: hash.digest('hex') })
  else {
    hash.update(ring.subarray(message[0], message[0] + message[1]))
    parentPort.postMessage(message[1])
  }
})
`

/**
 * A running hash of `algorithm` (a node:crypto name) on its own thread: `update` resolves once the
 * chunk is copied for it (waiting while the ring is full), `digest` resolves to the hex digest and
 * ends the thread, `close` ends it early. A failed thread rejects the next call.
 */
export class WorkerHash {
  readonly #worker: Worker
  readonly #ring = new Uint8Array(new SharedArrayBuffer(RING_BYTES))
  /** Where the next copy goes. */
  #head = 0
  /** Where the parts copied and not yet hashed start, oldest first (acknowledged in order). */
  readonly #inFlight: number[] = []
  #failure: Error | undefined
  #waiter: { resolve: () => void; reject: (error: Error) => void } | undefined
  #digest: { resolve: (hex: string) => void; reject: (error: Error) => void } | undefined
  #closed = false
  #updating = false

  constructor(algorithm: string) {
    this.#worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { algorithm, ring: this.#ring.buffer },
      execArgv: [],
      // It allocates next to nothing (it hashes the shared ring in place), but Node's own start-up
      // uses ~5 MiB of heap: a cap well above that, and far below a default worker's.
      resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 32 },
    })
    this.#worker.on('message', (message: number | { digest: string }) => {
      if (typeof message === 'number') {
        this.#inFlight.shift()
        const waiter = this.#waiter
        this.#waiter = undefined
        waiter?.resolve()
      } else this.#digest?.resolve(message.digest)
    })
    this.#worker.on('error', (error) => {
      this.#fail(error)
    })
    this.#worker.on('exit', (code) => {
      if (!this.#closed) this.#fail(new Error(`the ${algorithm} hash thread exited (code ${code})`))
    })
  }

  #fail(error: Error): void {
    this.#failure ??= error
    this.#waiter?.reject(this.#failure)
    this.#waiter = undefined
    this.#digest?.reject(this.#failure)
  }

  /**
   * Waits until `bytes` can be copied without touching unhashed bytes and returns where: after the
   * newest part, or at the ring's start when the end has no room (a part is never split).
   */
  async #room(bytes: number): Promise<number> {
    for (;;) {
      if (this.#failure !== undefined) throw this.#failure
      const tail = this.#inFlight[0]
      if (tail === undefined) return 0
      if (this.#head > tail) {
        // Unhashed bytes are [tail, head): room after them, or before them from the start.
        if (this.#head + bytes <= RING_BYTES) return this.#head
        if (bytes <= tail) return 0
      } else if (this.#head + bytes <= tail) return this.#head // wrapped: room is [head, tail)
      await new Promise<void>((resolve, reject) => {
        this.#waiter = { resolve, reject }
      })
    }
  }

  /** Copies `chunk` into the ring for the hash (in pieces of at most a quarter of it). */
  async update(chunk: Uint8Array): Promise<void> {
    if (this.#closed) throw new Error('update after the hash was closed')
    // A hash takes bytes in order: a second update before the first resolved has no order.
    if (this.#updating) throw new Error('update while another update is in progress')
    this.#updating = true
    try {
      const piece = RING_BYTES / 4
      for (let offset = 0; offset < chunk.byteLength; offset += piece) {
        const part = chunk.subarray(offset, Math.min(chunk.byteLength, offset + piece))
        const at = await this.#room(part.byteLength)
        this.#ring.set(part, at)
        this.#worker.postMessage([at, part.byteLength])
        this.#inFlight.push(at)
        this.#head = at + part.byteLength
      }
    } finally {
      this.#updating = false
    }
  }

  /** The hex digest of everything posted; ends the thread. */
  async digest(): Promise<string> {
    if (this.#failure !== undefined) throw this.#failure
    try {
      return await new Promise<string>((resolve, reject) => {
        this.#digest = { resolve, reject }
        this.#worker.postMessage(null)
      })
    } finally {
      await this.close()
    }
  }

  /** Ends the thread (idempotent); pending calls fail. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#fail(new Error('the hash was closed'))
    await this.#worker.terminate()
  }
}
