import { inspect } from 'node:util'

const HIDDEN = '***'

/**
 * A credential that never shows itself by accident: `String()`, `JSON.stringify` and
 * `util.inspect` give `***`; only `reveal()` returns the value, at the one place that needs it.
 */
export class Secret {
  readonly #value: string

  constructor(value: string) {
    this.#value = value
  }

  /** The actual value (to hand to an SDK or a mount command, never to a log). */
  reveal(): string {
    return this.#value
  }

  toString(): string {
    return HIDDEN
  }

  toJSON(): string {
    return HIDDEN
  }

  [inspect.custom](): string {
    return `Secret(${HIDDEN})`
  }
}
