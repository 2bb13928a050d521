import type { Json } from '../../shared/json.ts'
import type { Value, XapiType } from '../types.ts'
import { isTypedValue } from '../types.ts'
import { XapiFault } from '../xapi-fault.ts'
import { escapeXmlText } from './xml.ts'

/** A parameter as decoded from either transport, before coercion by the method signature. */
export type WireValue =
  string | number | boolean | readonly WireValue[] | { readonly [key: string]: WireValue }

/** Field types of a class's records, used to encode `record` values. */
export type RecordTypes = (cls: string) => Readonly<Record<string, XapiType>>

function fieldsOf(
  type: XapiType,
  value: Value,
  recordTypes: RecordTypes,
): [Record<string, Value>, (k: string) => XapiType] {
  const object = value as Record<string, Value>
  if (type.kind === 'record') {
    const fields = recordTypes(type.cls)
    return [object, (k) => fields[k] ?? { kind: 'string' }]
  }
  if (type.kind === 'struct') return [object, (k) => type.fields[k] ?? { kind: 'string' }]
  if (type.kind === 'map') return [object, () => type.value]
  throw new Error(`not a struct type: ${type.kind}`)
}

function scalar(value: Value): string {
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  throw new Error(`expected a scalar value, got ${JSON.stringify(value)}`)
}

/**
 * Encodes `value` as an XML-RPC `<value>` the way XAPI does (xapi.md §1.2): strings untyped,
 * 64-bit ints as digit strings, int32 as `<i4>`, doubles `%.16g`, booleans 1/0, datetimes ISO.
 */
export function encodeXmlValue(value: Value, type: XapiType, recordTypes: RecordTypes): string {
  if (isTypedValue(value)) return encodeXmlValue(value.value, value.typed, recordTypes)
  switch (type.kind) {
    case 'typed':
      throw new Error('typed value expected')
    case 'int':
      return `<value>${scalar(value)}</value>`
    case 'int32':
      return `<value><i4>${scalar(value)}</i4></value>`
    case 'float':
      return `<value><double>${formatDouble(value as number)}</double></value>`
    case 'bool':
      return `<value><boolean>${value === true ? 1 : 0}</boolean></value>`
    case 'datetime':
      return `<value><dateTime.iso8601>${escapeXmlText(scalar(value))}</dateTime.iso8601></value>`
    case 'set': {
      const items = (value as readonly Value[]).map((v) => encodeXmlValue(v, type.of, recordTypes))
      return `<value><array><data>${items.join('')}</data></array></value>`
    }
    case 'map':
    case 'record':
    case 'struct': {
      const [object, typeOf] = fieldsOf(type, value, recordTypes)
      const members = Object.keys(object).map(
        (k) =>
          `<member><name>${escapeXmlText(k)}</name>${encodeXmlValue(object[k] as Value, typeOf(k), recordTypes)}</member>`,
      )
      return `<value><struct>${members.join('')}</struct></value>`
    }
    case 'void':
      return '<value></value>'
    default:
      return `<value>${escapeXmlText(scalar(value))}</value>`
  }
}

/** Formats a float like OCaml's `%.16g` (what ocaml-rpc emits for doubles). */
export function formatDouble(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e16) return n.toString()
  const text = n.toPrecision(16)
  if (text.includes('e')) return text.replace(/\.?0+e/, 'e').replace(/e([+-])(\d)$/, 'e$10$2')
  return text.includes('.') ? text.replace(/\.?0+$/, '') : text
}

/** Encodes `value` as JSON-RPC JSON (xapi.md §1.3): ints and floats are numbers, void is `""`. */
export function encodeJsonValue(value: Value, type: XapiType, recordTypes: RecordTypes): Json {
  if (isTypedValue(value)) return encodeJsonValue(value.value, value.typed, recordTypes)
  switch (type.kind) {
    case 'set':
      return (value as readonly Value[]).map((v) => encodeJsonValue(v, type.of, recordTypes))
    case 'map':
    case 'record':
    case 'struct': {
      const [object, typeOf] = fieldsOf(type, value, recordTypes)
      const out: Record<string, Json> = {}
      for (const k of Object.keys(object))
        out[k] = encodeJsonValue(object[k] as Value, typeOf(k), recordTypes)
      return out
    }
    case 'void':
      return ''
    default:
      return value as Json
  }
}

/**
 * Coerces a decoded parameter to `type` (xapi.md §1.2: XML-RPC clients send ints as strings);
 * a value that does not fit raises `FIELD_TYPE_ERROR [name]`.
 */
export function coerceValue(value: WireValue, type: XapiType, name: string, recordTypes: RecordTypes): Value {
  const fail = (): never => {
    throw new XapiFault('FIELD_TYPE_ERROR', [name])
  }
  switch (type.kind) {
    case 'int':
    case 'int32': {
      const n = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value
      return typeof n === 'number' && Number.isInteger(n) ? n : fail()
    }
    case 'float': {
      const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value
      return typeof n === 'number' && !Number.isNaN(n) ? n : fail()
    }
    case 'bool':
      if (typeof value === 'boolean') return value
      return value === 'true' || value === '1' ? true : value === 'false' || value === '0' ? false : fail()
    case 'enum':
      return typeof value === 'string' && type.values.includes(value) ? value : fail()
    case 'set':
      return Array.isArray(value)
        ? value.map((v: WireValue) => coerceValue(v, type.of, name, recordTypes))
        : fail()
    case 'map':
    case 'record':
    case 'struct':
      return coerceObject(value, type, name, recordTypes, fail)
    default:
      return typeof value === 'string' ? value : fail()
  }
}

function coerceObject(
  value: WireValue,
  type: XapiType,
  name: string,
  recordTypes: RecordTypes,
  fail: () => never,
): Value {
  if (typeof value !== 'object' || Array.isArray(value)) return fail()
  const object = value as Readonly<Record<string, WireValue>>
  const out: Record<string, Value> = {}
  const fields =
    type.kind === 'record' ? recordTypes(type.cls) : type.kind === 'struct' ? type.fields : undefined
  for (const key of Object.keys(object)) {
    const fieldType = type.kind === 'map' ? type.value : fields?.[key]
    if (fieldType === undefined) continue // unknown record fields are ignored, as XAPI's unmarshallers do
    out[key] = coerceValue(object[key] as WireValue, fieldType, type.kind === 'map' ? name : key, recordTypes)
  }
  return out
}
