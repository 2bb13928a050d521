/**
 * XAPI value types as the simulator stores and encodes them (xapi.md §1.2–1.3): every value
 * crossing the wire is described by one of these so ints become digit strings over XML-RPC and
 * numbers over JSON-RPC, and incoming parameters are coerced by the method signature.
 */
export type XapiType =
  | { readonly kind: 'string' }
  | { readonly kind: 'int' }
  | { readonly kind: 'int32' }
  | { readonly kind: 'float' }
  | { readonly kind: 'bool' }
  | { readonly kind: 'datetime' }
  | { readonly kind: 'ref'; readonly cls: string }
  | { readonly kind: 'enum'; readonly values: readonly string[] }
  | { readonly kind: 'set'; readonly of: XapiType }
  | { readonly kind: 'map'; readonly key: XapiType; readonly value: XapiType }
  | { readonly kind: 'record'; readonly cls: string }
  | { readonly kind: 'struct'; readonly fields: Readonly<Record<string, XapiType>> }
  | { readonly kind: 'typed' }
  | { readonly kind: 'void' }

/**
 * A stored value: strings (also refs, enums and datetimes in XAPI's `YYYYMMDDTHH:MM:SSZ` form),
 * numbers (int and float), booleans, arrays (sets), string-keyed objects (maps, records).
 */
export type Value =
  string | number | boolean | readonly Value[] | { readonly [key: string]: Value } | TypedValue

const typedBrand: unique symbol = Symbol('typed')

/** A value carrying its own type, for results whose shape depends on data (event snapshots). */
export interface TypedValue {
  readonly [typedBrand]: true
  readonly typed: XapiType
  readonly value: Value
}

/** Wraps `value` with its type (see TypedValue). */
export function typedValue(typed: XapiType, value: Value): TypedValue {
  return { [typedBrand]: true, typed, value }
}

/** A database record: field name → value. */
export type XapiRecord = Record<string, Value>

/** Constructors for XapiType, so field tables and signatures read like XAPI's datamodel. */
export const t = {
  string: { kind: 'string' } as const,
  int: { kind: 'int' } as const,
  int32: { kind: 'int32' } as const,
  float: { kind: 'float' } as const,
  bool: { kind: 'bool' } as const,
  datetime: { kind: 'datetime' } as const,
  void: { kind: 'void' } as const,
  typed: { kind: 'typed' } as const,
  ref: (cls: string): XapiType => ({ kind: 'ref', cls }),
  enum: (...values: string[]): XapiType => ({ kind: 'enum', values }),
  set: (of: XapiType): XapiType => ({ kind: 'set', of }),
  map: (key: XapiType, value: XapiType): XapiType => ({ kind: 'map', key, value }),
  stringMap: { kind: 'map', key: { kind: 'string' }, value: { kind: 'string' } } as XapiType,
  record: (cls: string): XapiType => ({ kind: 'record', cls }),
  struct: (fields: Record<string, XapiType>): XapiType => ({ kind: 'struct', fields }),
}

/** The null reference (xapi.md §1.5). */
export const NULL_REF = 'OpaqueRef:NULL'

/** The XAPI datetime of the epoch, the value of unset datetimes. */
export const EPOCH_DATETIME = '19700101T00:00:00Z'

/** Formats epoch milliseconds as XAPI's datetime `%Y%m%dT%H:%M:%SZ` (xapi.md §1.3). */
export function formatXapiDateTime(epochMs: number): string {
  const iso = new Date(epochMs).toISOString()
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 19)}Z`
}

/** True when `value` is a TypedValue wrapper. */
export function isTypedValue(value: unknown): value is TypedValue {
  return typeof value === 'object' && value !== null && typedBrand in value
}
