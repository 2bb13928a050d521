import type { XmlElement } from './xml.ts'
import { XmlSyntaxError, elementsOf, escapeXmlText, findChild, parseXml, textIn } from './xml.ts'
import type { WireValue } from './value-codec.ts'

/** A decoded RPC request, transport-independent. */
export interface RpcCall {
  readonly method: string
  readonly params: readonly WireValue[]
}

/** Decodes an XML-RPC `<methodCall>` body; malformed input throws XmlSyntaxError (→ HTTP 500). */
export function decodeXmlRpcCall(body: string): RpcCall {
  const root = parseXml(body)
  if (root.name !== 'methodCall') throw new XmlSyntaxError(0, '<methodCall>', `<${root.name}>`)
  const nameElement = findChild(root, 'methodName')
  if (nameElement === undefined) throw new XmlSyntaxError(0, '<methodName>', 'none')
  const paramsElement = findChild(root, 'params')
  const params = (paramsElement === undefined ? [] : elementsOf(paramsElement))
    .filter((p) => p.name === 'param')
    .map((p) => decodeXmlValue(child(p, 'value')))
  return { method: textIn(nameElement).trim(), params }
}

function child(element: XmlElement, name: string): XmlElement {
  const found = findChild(element, name)
  if (found === undefined) throw new XmlSyntaxError(0, `<${name}> in <${element.name}>`, 'none')
  return found
}

/** Decodes one `<value>`: untyped text is a string (xapi.md §1.2 "accepted on input"). */
export function decodeXmlValue(value: XmlElement): WireValue {
  const typed = elementsOf(value)[0]
  if (typed === undefined) return textIn(value)
  switch (typed.name) {
    case 'string':
    case 'dateTime.iso8601':
    case 'base64':
      return textIn(typed)
    case 'int':
    case 'i4':
    case 'i8':
      return integer(textIn(typed))
    case 'double':
      return Number(textIn(typed).trim())
    case 'boolean':
      return textIn(typed).trim() === '1'
    case 'nil':
      return ''
    case 'array':
      return elementsOf(child(typed, 'data'))
        .filter((c) => c.name === 'value')
        .map(decodeXmlValue)
    case 'struct':
      return decodeStruct(typed)
    default:
      throw new XmlSyntaxError(0, 'an XML-RPC type', typed.name)
  }
}

function integer(text: string): number {
  const trimmed = text.trim()
  if (!/^[-+]?\d+$/.test(trimmed)) throw new XmlSyntaxError(0, 'an integer', trimmed)
  return Number(trimmed)
}

function decodeStruct(struct: XmlElement): WireValue {
  const out: Record<string, WireValue> = {}
  for (const member of elementsOf(struct)) {
    if (member.name !== 'member') continue
    // An own property even for "__proto__": member names are data, not a prototype to set.
    Object.defineProperty(out, textIn(child(member, 'name')), {
      value: decodeXmlValue(child(member, 'value')),
      enumerable: true,
      writable: true,
      configurable: true,
    })
  }
  return out
}

const XML_HEADER = '<?xml version="1.0"?>'

/** Wraps an encoded `<value>` as a `<methodResponse>` document. */
export function xmlRpcResponse(encodedValue: string): string {
  return `${XML_HEADER}<methodResponse><params><param>${encodedValue}</param></params></methodResponse>`
}

/** The `Status=Success`/`Value` struct XAPI wraps every result in (xapi.md §1.2). */
export function xmlRpcSuccess(encodedValue: string): string {
  return xmlRpcResponse(
    `<value><struct><member><name>Status</name><value>Success</value></member><member><name>Value</name>${encodedValue}</member></struct></value>`,
  )
}

/** The `Status=Failure`/`ErrorDescription=[code, params…]` struct (xapi.md §1.2). */
export function xmlRpcFailure(code: string, params: readonly string[]): string {
  const items = [code, ...params].map((s) => `<value>${escapeXmlText(s)}</value>`).join('')
  return xmlRpcResponse(
    `<value><struct><member><name>Status</name><value>Failure</value></member><member><name>ErrorDescription</name><value><array><data>${items}</data></array></value></member></struct></value>`,
  )
}
