import type { XapiValue } from './types.ts'
import { childElements, escapeXml, parseXml, textOf, XmlError } from '../shared/xml.ts'
import type { XmlElement } from '../shared/xml.ts'
import { XapiError, XapiProtocolError } from './xapi-error.ts'
import { valueText } from './records.ts'

/** A struct value as decoded from XML-RPC. */
type XapiStruct = { [key: string]: XapiValue }

/**
 * Encodes a value as an XML-RPC `<value>`: strings and integers as `<string>` (XAPI takes int64
 * parameters as digit strings, xapi.md §1.2, which keeps 64-bit sizes exact), other numbers as
 * `<double>`, booleans as `<boolean>`, arrays and structs recursively.
 */
export function encodeXmlRpcValue(value: XapiValue): string {
  if (typeof value === 'string') return `<value><string>${escapeXml(value)}</string></value>`
  if (typeof value === 'boolean') return `<value><boolean>${value ? 1 : 0}</boolean></value>`
  if (typeof value === 'number') {
    if (Number.isInteger(value)) return `<value><string>${value.toFixed(0)}</string></value>`
    if (!Number.isFinite(value)) throw new RangeError(`XML-RPC cannot encode the number ${value}`)
    return `<value><double>${value}</double></value>`
  }
  if (Array.isArray(value)) {
    return `<value><array><data>${(value as readonly XapiValue[]).map(encodeXmlRpcValue).join('')}</data></array></value>`
  }
  const members = Object.entries(value as Readonly<XapiStruct>).map(
    ([name, member]) => `<member><name>${escapeXml(name)}</name>${encodeXmlRpcValue(member)}</member>`,
  )
  return `<value><struct>${members.join('')}</struct></value>`
}

/** The XML-RPC request body calling `method` with positional `params` (xapi.md §1.2). */
export function encodeXmlRpcCall(method: string, params: readonly XapiValue[]): string {
  const encoded = params.map((p) => `<param>${encodeXmlRpcValue(p)}</param>`).join('')
  return `<?xml version="1.0"?><methodCall><methodName>${escapeXml(method)}</methodName><params>${encoded}</params></methodCall>`
}

function single(element: XmlElement, name: string, where: string): XmlElement {
  const children = childElements(element)
  const found = children[0]
  if (children.length !== 1 || found?.name !== name) {
    throw new XapiProtocolError(
      where,
      `one <${name}>`,
      children.map((c) => `<${c.name}>`).join('') || 'nothing',
    )
  }
  return found
}

function parseInteger(text: string, where: string): number {
  const trimmed = text.trim()
  if (!/^[+-]?\d+$/.test(trimmed)) throw new XapiProtocolError(where, 'an integer', JSON.stringify(text))
  return Number(trimmed)
}

/**
 * Decodes an XML-RPC `<value>` element. Untyped and `<string>` values are strings (so XAPI's
 * 64-bit ints stay digit strings, xapi.md §1.2); `dateTime.iso8601` and `base64` decode to their
 * text, the same strings JSON-RPC carries (xapi.md §1.3).
 */
export function decodeXmlRpcValue(element: XmlElement, where = 'value'): XapiValue {
  const typed = childElements(element)
  if (typed.length === 0) return textOf(element)
  const inner = single(element, typed[0]?.name ?? '', where)
  const text = textOf(inner)
  switch (inner.name) {
    case 'string':
    case 'dateTime.iso8601':
      return text
    case 'base64':
      return text.replace(/\s+/g, '')
    case 'int':
    case 'i4':
    case 'i8':
      return parseInteger(text, `${where}/<${inner.name}>`)
    case 'double': {
      const value = Number(text.trim())
      if (text.trim() === '' || Number.isNaN(value)) throw new XapiProtocolError(where, 'a double', text)
      return value
    }
    case 'boolean':
      if (text.trim() !== '0' && text.trim() !== '1') throw new XapiProtocolError(where, '0 or 1', text)
      return text.trim() === '1'
    case 'array':
      return childElements(single(inner, 'data', `${where}/array`)).map((v, i) =>
        decodeXmlRpcValue(v, `${where}[${i}]`),
      )
    case 'struct':
      return decodeStruct(inner, where)
    default:
      throw new XapiProtocolError(where, 'an XML-RPC type', `<${inner.name}>`)
  }
}

function decodeStruct(struct: XmlElement, where: string): XapiStruct {
  const out: XapiStruct = {}
  for (const member of childElements(struct)) {
    const parts = childElements(member)
    const name = parts.find((p) => p.name === 'name')
    const value = parts.find((p) => p.name === 'value')
    if (member.name !== 'member' || name === undefined || value === undefined) {
      throw new XapiProtocolError(`${where}/struct`, '<member> with <name> and <value>', `<${member.name}>`)
    }
    const key = textOf(name)
    // Own property even for keys like "__proto__": maps come from the server and are data.
    Object.defineProperty(out, key, {
      value: decodeXmlRpcValue(value, `${where}.${key}`),
      enumerable: true,
      writable: true,
      configurable: true,
    })
  }
  return out
}

/** Parses XML from the server; malformed XML is a protocol error of the call `where`. */
function parseServerXml(text: string, where: string): XmlElement {
  try {
    return parseXml(text, where)
  } catch (error) {
    if (error instanceof XmlError) throw new XapiProtocolError(where, 'well-formed XML', error.message)
    throw error
  }
}

/** Decodes a bare XML-RPC value text such as a task `result` (`<value>OpaqueRef:…</value>`, xapi.md §1.6). */
export function decodeXmlRpcValueText(text: string, where: string): XapiValue {
  const root = parseServerXml(text, where)
  if (root.name !== 'value') throw new XapiProtocolError(where, '<value>', `<${root.name}>`)
  return decodeXmlRpcValue(root, where)
}

function isStruct(value: XapiValue): value is XapiStruct {
  return typeof value === 'object' && !Array.isArray(value)
}

/**
 * Decodes an XML-RPC response body of `method`: the Status/Value envelope gives the value, a
 * `Failure` throws XapiError from `ErrorDescription`, a bare value (`system.listMethods`) is
 * returned as is, a `<fault>` throws XapiError `XMLRPC_FAULT` (xapi.md §1.2).
 */
export function decodeXmlRpcResponse(body: string, method: string): XapiValue {
  const where = `${method} response`
  const root = parseServerXml(body, where)
  if (root.name !== 'methodResponse') throw new XapiProtocolError(where, '<methodResponse>', `<${root.name}>`)
  const first = childElements(root)[0]
  if (first?.name === 'fault') {
    const fault = decodeXmlRpcValue(single(first, 'value', `${where}/fault`), `${where}/fault`)
    const detail = isStruct(fault)
      ? [valueText(fault.faultCode), valueText(fault.faultString)]
      : [valueText(fault)]
    throw new XapiError('XMLRPC_FAULT', detail, method)
  }
  const param = single(single(root, 'params', where), 'param', `${where}/params`)
  const value = decodeXmlRpcValue(single(param, 'value', `${where}/param`), where)
  if (!isStruct(value) || !('Status' in value)) return value
  if (value.Status === 'Success') return value.Value ?? ''
  const description = value.ErrorDescription
  if (value.Status !== 'Failure' || !Array.isArray(description) || description.length === 0) {
    throw new XapiProtocolError(
      where,
      'Status Success with Value or Failure with ErrorDescription',
      JSON.stringify(value),
    )
  }
  const [code, ...params] = (description as readonly XapiValue[]).map(String)
  throw new XapiError(code ?? 'UNKNOWN', params, method)
}
