/** A counting semaphore: at most `limit` holders; waiters are served first come, first served. */
export class Semaphore {
  readonly #limit: number
  #held = 0
  readonly #waiters: (() => void)[] = []

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError(`limit must be an integer >= 1, got ${limit}`)
    this.#limit = limit
  }

  /** Holders right now (for tests and metrics). */
  get held(): number {
    return this.#held
  }

  /** Resolves once a slot is free; the caller must `release` exactly once. */
  acquire(): Promise<void> {
    if (this.#held < this.#limit) {
      this.#held++
      return Promise.resolve()
    }
    return new Promise((resolve) => this.#waiters.push(resolve))
  }

  /** Frees a slot, handing it straight to the first waiter if any. */
  release(): void {
    const next = this.#waiters.shift()
    if (next === undefined) this.#held--
    else next()
  }

  /** Runs `fn` holding a slot. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire()
    try {
      return await fn()
    } finally {
      this.release()
    }
  }
}
