import type { Json } from '../../shared/json.ts'
import { BackupError } from '../../shared/errors.ts'
import type { RpcCall } from './xmlrpc.ts'
import type { WireValue } from './value-codec.ts'

/** A decoded JSON-RPC request: the call, its id, and which envelope version to answer with. */
export interface JsonRpcRequest extends RpcCall {
  readonly id: string | number
  readonly version: '1.0' | '2.0'
}

/** A JSON-RPC body that XAPI would reject with HTTP 500 (xapi.md §1.3: no id, params not an array). */
export class JsonRpcMalformedError extends BackupError<'JSONRPC_MALFORMED'> {
  constructor(field: string, expected: string, got: unknown) {
    super(
      'JSONRPC_MALFORMED',
      `JSON-RPC request field ${field}: expected ${expected}, got ${JSON.stringify(got)}`,
    )
  }
}

// Deeper than any XAPI value (a map of records of sets): the recursive decoders after the parse
// (coercion, encoding) must never meet a stack-overflowing 20,000-deep array.
const MAX_JSON_DEPTH = 64

/** The nesting depth of `value`, counted without recursion; stops once past `limit`. */
function depthOf(value: unknown, limit: number): number {
  let deepest = 0
  const pending: [unknown, number][] = [[value, 1]]
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [item, depth] = next
    if (typeof item !== 'object' || item === null) continue
    deepest = Math.max(deepest, depth)
    if (deepest > limit) return deepest
    for (const child of Object.values(item)) pending.push([child, depth + 1])
  }
  return deepest
}

/** Decodes a JSON-RPC 1.0 or 2.0 request; anything XAPI refuses throws JsonRpcMalformedError. */
export function decodeJsonRpcRequest(body: string): JsonRpcRequest {
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch (error) {
    throw new JsonRpcMalformedError('(body)', 'JSON', (error as Error).message)
  }
  if (depthOf(parsed, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
    throw new JsonRpcMalformedError('(body)', `at most ${MAX_JSON_DEPTH} nested arrays and objects`, 'more')
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new JsonRpcMalformedError('(body)', 'an object', parsed)
  }
  const request = parsed as Record<string, unknown>
  const { id, method, params } = request
  if (typeof id !== 'string' && !(typeof id === 'number' && Number.isInteger(id))) {
    throw new JsonRpcMalformedError('id', 'an int or a string', id)
  }
  if (typeof method !== 'string') throw new JsonRpcMalformedError('method', 'a string', method)
  const version = request.jsonrpc === '2.0' ? '2.0' : '1.0'
  if (params === undefined && version === '2.0') return { id, method, params: [], version }
  if (!Array.isArray(params)) throw new JsonRpcMalformedError('params', 'an array', params)
  return { id, method, params: params as WireValue[], version }
}

/** The success envelope for the request's version (xapi.md §1.3). */
export function jsonRpcSuccess(request: JsonRpcRequest, result: Json): string {
  if (request.version === '2.0') return JSON.stringify({ jsonrpc: '2.0', result, id: request.id })
  return JSON.stringify({ result, error: null, id: request.id })
}

/** The failure envelope: v2 `{code:1,message,data}`, v1 `[code, params…]` (xapi.md §1.3). */
export function jsonRpcFailure(request: JsonRpcRequest, code: string, params: readonly string[]): string {
  if (request.version === '2.0') {
    return JSON.stringify({ jsonrpc: '2.0', error: { code: 1, message: code, data: params }, id: request.id })
  }
  return JSON.stringify({ result: null, error: [code, ...params], id: request.id })
}
