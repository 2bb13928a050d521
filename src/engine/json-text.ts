// A strict JSON reader for run descriptions. JSON.parse is not used because its messages quote
// the surrounding source (a password on that line would reach the terminal), it keeps the last of
// duplicate keys silently and it says "Expected double-quoted property name" for a trailing comma.
// This one reports an offset and a message that never contains document text except field names.

/** A JSON syntax error at `offset` (UTF-16 index in the text). */
export class JsonTextError extends Error {
  readonly offset: number

  constructor(message: string, offset: number) {
    super(message)
    this.offset = offset
  }
}

/** 1-based line and column of `offset` in `text`. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1
  let start = 0
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++
    start = i + 1
  }
  return { line, column: offset - start + 1 }
}

const WHITESPACE = /[ \t\n\r]*/y
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y
// JSON forbids raw control characters in strings (RFC 8259 §7), hence the range in the class.
// eslint-disable-next-line no-control-regex
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y
const AFTER_NUMBER = /[0-9A-Za-z.+-]/
const NO_COMMENTS = 'comments are not allowed in JSON (YAML allows them)'
const A_VALUE = 'a value (a string in double quotes, a number, an object, an array, true, false or null)'

const shortKey = (key: string): string => JSON.stringify(key.length > 40 ? `${key.slice(0, 37)}...` : key)

class Reader {
  #pos = 0
  readonly #text: string
  readonly #maxDepth: number

  constructor(text: string, maxDepth: number) {
    this.#text = text
    this.#maxDepth = maxDepth
  }

  document(): unknown {
    if (this.#text.startsWith('\uFEFF'))
      throw new JsonTextError('the file starts with a byte order mark (BOM): save it as UTF-8 without BOM', 0)
    const value = this.#value(0)
    this.#skipWhitespace()
    if (this.#pos < this.#text.length)
      throw new JsonTextError('unexpected text after the end of the JSON document', this.#pos)
    return value
  }

  #skipWhitespace(): void {
    WHITESPACE.lastIndex = this.#pos
    WHITESPACE.exec(this.#text)
    this.#pos = WHITESPACE.lastIndex
  }

  #value(depth: number): unknown {
    this.#skipWhitespace()
    const c = this.#text[this.#pos]
    if (c === '{' || c === '[') {
      if (depth >= this.#maxDepth)
        throw new JsonTextError(`nested deeper than ${this.#maxDepth} levels`, this.#pos)
      return c === '{' ? this.#object(depth + 1) : this.#array(depth + 1)
    }
    if (c === '"') return this.#string()
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.#number()
    for (const [word, value] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (this.#text.startsWith(word, this.#pos)) {
        this.#pos += word.length
        return value
      }
    }
    if (c === undefined) throw new JsonTextError(`unexpected end of file; expected ${A_VALUE}`, this.#pos)
    if (c === '/') throw new JsonTextError(NO_COMMENTS, this.#pos)
    if (c === "'") throw new JsonTextError('strings must be in double quotes', this.#pos)
    throw new JsonTextError(`expected ${A_VALUE}`, this.#pos)
  }

  #object(depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {}
    const seen = new Map<string, number>()
    this.#pos++
    this.#skipWhitespace()
    if (this.#text[this.#pos] === '}') {
      this.#pos++
      return out
    }
    for (;;) {
      this.#skipWhitespace()
      const keyAt = this.#pos
      const c = this.#text[keyAt]
      if (c !== '"')
        throw new JsonTextError(c === '/' ? NO_COMMENTS : 'expected a field name in double quotes', keyAt)
      const key = this.#string()
      const first = seen.get(key)
      if (first !== undefined) {
        const { line, column } = lineColumn(this.#text, first)
        throw new JsonTextError(
          `duplicate field ${shortKey(key)} (first at line ${line}, column ${column})`,
          keyAt,
        )
      }
      seen.set(key, keyAt)
      this.#skipWhitespace()
      if (this.#text[this.#pos] !== ':')
        throw new JsonTextError("expected ':' after the field name", this.#pos)
      this.#pos++
      // defineProperty: a "__proto__" field is data, not the object's prototype.
      Object.defineProperty(out, key, {
        value: this.#value(depth),
        enumerable: true,
        writable: true,
        configurable: true,
      })
      if (this.#endOfList('}')) return out
    }
  }

  #array(depth: number): unknown[] {
    const out: unknown[] = []
    this.#pos++
    this.#skipWhitespace()
    if (this.#text[this.#pos] === ']') {
      this.#pos++
      return out
    }
    for (;;) {
      out.push(this.#value(depth))
      if (this.#endOfList(']')) return out
    }
  }

  /** After an item: `,` continues (a closing bracket right after it is a trailing comma), `close` ends. */
  #endOfList(close: '}' | ']'): boolean {
    this.#skipWhitespace()
    const c = this.#text[this.#pos]
    if (c === close) {
      this.#pos++
      return true
    }
    if (c !== ',') {
      const what = close === '}' ? 'a field' : 'an array item'
      throw new JsonTextError(`expected ',' or '${close}' after ${what}`, this.#pos)
    }
    const comma = this.#pos
    this.#pos++
    this.#skipWhitespace()
    if (this.#text[this.#pos] === close)
      throw new JsonTextError(`trailing comma before '${close}' (JSON allows none)`, comma)
    return false
  }

  #string(): string {
    STRING.lastIndex = this.#pos
    const match = STRING.exec(this.#text)
    if (match === null) {
      const end = this.#text.slice(this.#pos + 1).search(/["\n]/)
      const reason =
        end === -1 || this.#text[this.#pos + 1 + end] === '\n'
          ? 'unterminated string'
          : 'invalid string (a control character or a bad \\ escape)'
      throw new JsonTextError(reason, this.#pos)
    }
    this.#pos = STRING.lastIndex
    return JSON.parse(match[0]) as string
  }

  #number(): number {
    const at = this.#pos
    NUMBER.lastIndex = at
    const match = NUMBER.exec(this.#text)
    const next = this.#text[NUMBER.lastIndex]
    if (match === null || (next !== undefined && AFTER_NUMBER.test(next)))
      throw new JsonTextError('invalid number', at)
    this.#pos = NUMBER.lastIndex
    const value = Number(match[0])
    if (!Number.isFinite(value)) throw new JsonTextError('number out of range', at)
    return value
  }
}

/**
 * Parses `text` as strict RFC 8259 JSON (no BOM, comments, trailing commas or duplicate fields),
 * nesting at most `maxDepth` levels; throws JsonTextError with the offset of the first problem.
 */
export function parseJsonText(text: string, maxDepth = 64): unknown {
  return new Reader(text, maxDepth).document()
}
