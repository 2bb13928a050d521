import { childElements, escapeXml, parseXml, textOf, XmlError } from '../../shared/xml.ts'
import type { XmlElement } from '../../shared/xml.ts'
import { XvaError } from './xva-error.ts'

/** An XML-RPC `dateTime.iso8601` value, kept as its text (`19700101T00:00:00Z`). */
export class XmlRpcDateTime {
  constructor(readonly text: string) {}
}

/** An XML-RPC `double`, kept apart from integers so `1.0` is written back as a double. */
export class XmlRpcDouble {
  constructor(readonly value: number) {}
}

/**
 * A value of ova.xml. XAPI writes integers untyped (`<value>123</value>`), so they read back as
 * strings; `number` is written the same way (integers only).
 */
export type OvaValue =
  string | number | boolean | XmlRpcDateTime | XmlRpcDouble | readonly OvaValue[] | OvaStruct

/** A struct of ova.xml. */
export interface OvaStruct {
  readonly [key: string]: OvaValue
}

/** One object of the XVA's graph: `class` (VM, VBD, VDI, SR…), local `id` (`Ref:<n>`) and its record. */
export interface OvaObject {
  readonly class: string
  readonly id: string
  readonly snapshot: OvaStruct
}

/** The decoded ova.xml: export `version` information and the object graph. */
export interface OvaDocument {
  readonly version: OvaStruct
  readonly objects: readonly OvaObject[]
}

/** Encodes a value as XAPI's `Xmlrpc.to_string` does (untyped strings and integers). */
export function encodeOvaValue(value: OvaValue): string {
  if (typeof value === 'string') return `<value>${escapeXml(value)}</value>`
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value))
      throw new RangeError(`ova.xml integers must be safe integers, got ${value}`)
    return `<value>${value}</value>`
  }
  if (typeof value === 'boolean') return `<value><boolean>${value ? 1 : 0}</boolean></value>`
  if (value instanceof XmlRpcDateTime)
    return `<value><dateTime.iso8601>${escapeXml(value.text)}</dateTime.iso8601></value>`
  if (value instanceof XmlRpcDouble) return `<value><double>${value.value}</double></value>`
  if (Array.isArray(value))
    return `<value><array><data>${(value as readonly OvaValue[]).map(encodeOvaValue).join('')}</data></array></value>`
  const members = Object.entries(value as OvaStruct).map(
    ([name, member]) => `<member><name>${escapeXml(name)}</name>${encodeOvaValue(member)}</member>`,
  )
  return `<value><struct>${members.join('')}</struct></value>`
}

/** ova.xml's text: the XML-RPC value of `{version, objects}`, without XML declaration (xapi.md §4). */
export function encodeOvaXml(document: OvaDocument): string {
  return encodeOvaValue({
    version: document.version,
    objects: document.objects.map((o) => ({ class: o.class, id: o.id, snapshot: o.snapshot })),
  })
}

const invalid = (where: string, expected: string, got: string): XvaError =>
  new XvaError('XVA_OVA_INVALID', `ova.xml: ${where}`, expected, got)

function decodeValue(element: XmlElement, where: string, depth: number): OvaValue {
  if (element.name !== 'value') throw invalid(where, '<value>', `<${element.name}>`)
  if (depth > 64) throw invalid(where, 'at most 64 nested values', 'more')
  const children = childElements(element)
  if (children.length === 0) return textOf(element)
  const [typed] = children
  if (children.length !== 1 || typed === undefined)
    throw invalid(where, 'one typed element in <value>', `${children.length}`)
  const text = textOf(typed)
  switch (typed.name) {
    case 'string':
    case 'base64':
      return text
    case 'int':
    case 'i4':
    case 'i8': {
      if (!/^\s*[+-]?\d+\s*$/.test(text)) throw invalid(where, 'an integer', JSON.stringify(text))
      return Number(text)
    }
    case 'boolean':
      if (text.trim() !== '0' && text.trim() !== '1')
        throw invalid(where, 'boolean 0 or 1', JSON.stringify(text))
      return text.trim() === '1'
    case 'double': {
      const value = Number(text)
      if (text.trim() === '' || Number.isNaN(value)) throw invalid(where, 'a double', JSON.stringify(text))
      return new XmlRpcDouble(value)
    }
    case 'dateTime.iso8601':
      return new XmlRpcDateTime(text.trim())
    case 'nil':
      return ''
    case 'array': {
      const [data] = childElements(typed)
      if (data?.name !== 'data') throw invalid(where, '<array><data>', `<${data?.name ?? 'nothing'}>`)
      return childElements(data).map((v, i) => decodeValue(v, `${where}[${i}]`, depth + 1))
    }
    case 'struct': {
      const out: Record<string, OvaValue> = {}
      for (const member of childElements(typed)) {
        const [name, value] = childElements(member)
        if (member.name !== 'member' || name?.name !== 'name' || value === undefined) {
          throw invalid(where, '<member><name>…</name><value>…</value></member>', `<${member.name}>`)
        }
        const key = textOf(name)
        out[key] = decodeValue(value, `${where}.${key}`, depth + 1)
      }
      return out
    }
    default:
      throw invalid(where, 'an XML-RPC type', `<${typed.name}>`)
  }
}

function isStruct(value: OvaValue | undefined): value is OvaStruct {
  return (
    typeof value === 'object' &&
    !Array.isArray(value) &&
    !(value instanceof XmlRpcDateTime) &&
    !(value instanceof XmlRpcDouble)
  )
}

/**
 * Parses ova.xml: `{version: struct, objects: [{class, id, snapshot}]}`. Unknown fields are kept
 * in the records; a missing or mistyped structural field throws XVA_OVA_INVALID naming its path.
 */
export function decodeOvaXml(text: string): OvaDocument {
  let root: XmlElement
  try {
    root = parseXml(text, 'ova.xml')
  } catch (error) {
    if (error instanceof XmlError)
      throw new XvaError('XVA_OVA_INVALID', 'ova.xml', 'well-formed XML', error.message)
    throw error
  }
  const top = decodeValue(root, 'root', 0)
  if (!isStruct(top)) throw invalid('root', 'a struct', typeof top)
  const { version, objects } = top
  if (!isStruct(version)) throw invalid('version', 'a struct', typeof version)
  if (!Array.isArray(objects)) throw invalid('objects', 'an array', typeof objects)
  return {
    version,
    objects: (objects as readonly OvaValue[]).map((object, i) => {
      if (!isStruct(object)) throw invalid(`objects[${i}]`, 'a struct', typeof object)
      const { class: cls, id, snapshot } = object
      if (typeof cls !== 'string' || typeof id !== 'string' || !isStruct(snapshot)) {
        throw invalid(
          `objects[${i}]`,
          '{class: string, id: string, snapshot: struct}',
          JSON.stringify(Object.keys(object)),
        )
      }
      return { class: cls, id, snapshot }
    }),
  }
}
