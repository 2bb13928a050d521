// Turns the text of a run description (JSON or YAML, ADR 0008) into plain data, or a
// RUN_DESCRIPTION_SYNTAX error `<file>:<line>:<column>: <problem>` that quotes no document text.
import { LineCounter, parseDocument, visit } from 'yaml'
import { JsonTextError, lineColumn, parseJsonText } from './json-text.ts'
import { RunDescriptionError } from './run-description-error.ts'

/** The two accepted notations (YAML 1.2 core schema; JSON strict). */
export type DescriptionFormat = 'json' | 'yaml'

/** Largest accepted run description: a hand-written job is a few KiB; this bounds parse memory. */
export const MAX_DESCRIPTION_BYTES = 1024 * 1024

// Anchors/aliases are allowed (they save repetition), but a "billion laughs" document is not.
const MAX_ALIASES = 100
const MAX_DEPTH = 64
// The yaml package composes deep nesting slowly and, for ~200k nested `- `, dies of memory
// exhaustion inside V8 (measured: 400 KB of input, > 500 MB, fatal). So nesting is bounded before
// it parses, by two over-approximations that never under-count: every `[`/`{` counts as a flow
// level (closers are not subtracted: inside quotes they would let a hostile text hide levels),
// and a line's block nesting is at most the column where its content starts after the
// indentation and block indicators (`- `, `? `, `: `). Worst case left: ~1 s, ~150 MB.
const MAX_FLOW_OPENERS = 10_000
const MAX_BLOCK_COLUMN = 256
const BLOCK_PREFIX = /^[ \t]*(?:[-?:](?:[ \t]+|$))*/

/** The format a file name implies: `.json` is JSON, anything else (`.yaml`, `.yml`) YAML. */
export function formatOfFileName(fileName: string): DescriptionFormat {
  return /\.json$/i.test(fileName) ? 'json' : 'yaml'
}

function syntaxError(
  file: string,
  position: { line: number; column: number } | undefined,
  problem: string,
): RunDescriptionError {
  const where = position === undefined ? file : `${file}:${position.line}:${position.column}`
  return new RunDescriptionError('RUN_DESCRIPTION_SYNTAX', `${where}: ${problem}`, {
    details: { file, ...(position ?? {}), problem },
  })
}

/** Decodes file bytes as UTF-8 (a BOM is kept so that JSON can name it); invalid UTF-8 is an error. */
export function decodeDescription(bytes: Uint8Array, file: string): string {
  if (bytes.byteLength > MAX_DESCRIPTION_BYTES)
    throw syntaxError(file, undefined, `larger than ${MAX_DESCRIPTION_BYTES} bytes (${bytes.byteLength})`)
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes)
  } catch {
    throw syntaxError(file, undefined, 'not valid UTF-8 text')
  }
}

function depthOf(value: unknown, depth: number): number {
  if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return depth
  let max = depth
  for (const item of Object.values(value)) max = Math.max(max, depthOf(item, depth + 1))
  return max
}

// The yaml package's messages sometimes quote the document (`Unresolved tag: !p4ss` for an
// unquoted password starting with `!`, a block scalar header, a directive): those codes get our
// own words, and every other message is cut before the ': ' where such quotes start.
const YAML_MESSAGES: Readonly<Record<string, string>> = {
  DUPLICATE_KEY: 'duplicate key (keys must be unique)',
  TAG_RESOLVE_FAILED: 'unknown tag (a value starting with ! is a YAML tag: quote it)',
  BAD_DIRECTIVE: 'bad directive (a value starting with % is a YAML directive: quote it)',
  BAD_DQ_ESCAPE: 'invalid \\ escape in a double-quoted string',
  BAD_COLLECTION_TYPE: 'a tag that does not fit its collection',
  BAD_ALIAS: 'bad alias',
  NON_STRING_KEY: 'a key that is not a string',
}
const beforeColon = (message: string): string => message.split(': ', 1)[0] ?? message

function safeYamlMessage(code: string, message: string): string {
  if (/call stack/i.test(message)) return 'nested too deeply'
  return YAML_MESSAGES[code] ?? beforeColon(message)
}

function checkYamlShape(text: string, file: string): void {
  let openers = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if ((c === 0x5b || c === 0x7b) && ++openers > MAX_FLOW_OPENERS)
      throw syntaxError(
        file,
        lineColumn(text, i),
        `more than ${MAX_FLOW_OPENERS} '[' and '{': too deeply nested or too large`,
      )
  }
  let lineStart = 0
  for (let line = 1; lineStart <= text.length; line++) {
    const end = text.indexOf('\n', lineStart)
    const prefix = BLOCK_PREFIX.exec(
      text.slice(lineStart, Math.min(end === -1 ? text.length : end, lineStart + MAX_BLOCK_COLUMN + 1)),
    )
    if ((prefix?.[0].length ?? 0) > MAX_BLOCK_COLUMN)
      throw syntaxError(
        file,
        { line, column: MAX_BLOCK_COLUMN + 1 },
        `content indented or nested past column ${MAX_BLOCK_COLUMN}`,
      )
    if (end === -1) break
    lineStart = end + 1
  }
}

function parseYaml(text: string, file: string): unknown {
  checkYamlShape(text, file)
  const lines = new LineCounter()
  let doc
  try {
    doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, strict: true })
  } catch {
    throw syntaxError(file, undefined, 'the YAML parser gave up (nested too deeply?)')
  }
  // Warnings too (an unknown !tag would silently become a string): a job file is not a place to guess.
  const problem = doc.errors[0] ?? doc.warnings[0]
  if (problem !== undefined) {
    const { line, col } = lines.linePos(problem.pos[0])
    const message = safeYamlMessage(problem.code, problem.message)
    throw syntaxError(file, { line, column: col }, message)
  }
  let unresolved: { source: string; offset: number } | undefined
  visit(doc, {
    Alias(_, alias) {
      if (alias.resolve(doc) !== undefined) return undefined
      unresolved = { source: alias.source, offset: alias.range?.[0] ?? 0 }
      return visit.BREAK
    },
  })
  if (unresolved !== undefined) {
    const { line, col } = lines.linePos(unresolved.offset)
    throw syntaxError(
      file,
      { line, column: col },
      `alias *${unresolved.source} names no anchor defined before it`,
    )
  }
  let value: unknown
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIASES })
  } catch (error) {
    // Unresolved alias, too many aliases, a stack overflow on deep nesting: all without position.
    const reason = error instanceof RangeError ? 'nested too deeply' : beforeColon((error as Error).message)
    throw syntaxError(file, undefined, `YAML: ${reason}`)
  }
  if (depthOf(value, 0) > MAX_DEPTH)
    throw syntaxError(file, undefined, `nested deeper than ${MAX_DEPTH} levels`)
  return value
}

/**
 * Parses a run description's text in `format` into plain data (objects, arrays, strings,
 * numbers, booleans, null); syntax problems throw RUN_DESCRIPTION_SYNTAX naming `file`, the line
 * and the column, without quoting the document (it may hold credentials).
 */
export function parseDescriptionText(text: string, format: DescriptionFormat, file: string): unknown {
  if (text.length > MAX_DESCRIPTION_BYTES)
    throw syntaxError(file, undefined, `larger than ${MAX_DESCRIPTION_BYTES} characters`)
  if (format === 'yaml') return parseYaml(text, file)
  try {
    return parseJsonText(text, MAX_DEPTH)
  } catch (error) {
    if (!(error instanceof JsonTextError)) throw error
    throw syntaxError(file, lineColumn(text, error.offset), error.message)
  }
}
