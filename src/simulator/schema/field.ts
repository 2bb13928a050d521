import type { Value, XapiType } from '../types.ts'
import { EPOCH_DATETIME, NULL_REF } from '../types.ts'

/**
 * How a field may change (XAPI datamodel qualifiers): `rw` has `set_<f>` (and `add_to_`/`add_`
 * for maps/sets), `ctor` is read-only but given to `<Class>.create`, `ro` is set by the server.
 */
export type FieldAccess = 'rw' | 'ctor' | 'ro'

/** One row of a class's field table: every accessor is generated from these. */
export interface FieldDef {
  readonly name: string
  readonly type: XapiType
  readonly access: FieldAccess
  /** Value when absent from a constructor record; undefined = mandatory in `<Class>.create`. */
  readonly default: Value | undefined
  /**
   * Mandatory in `<Class>.create` although the server has a value for it when it makes the object
   * itself (XAPI datamodel fields without `default_value`, xapi.md §2.3 VM.create).
   */
  readonly mandatoryInCreate?: boolean
}

/** A class of the object database and its field table. */
export interface ClassSchema {
  readonly name: string
  readonly fields: readonly FieldDef[]
  /** Whether `<Class>.create(record)` is generated (else the class has its own constructor or none). */
  readonly genericCreate: boolean
}

/** The zero value of a type: what XAPI reports for unset fields. */
export function zeroValue(type: XapiType): Value {
  switch (type.kind) {
    case 'int':
    case 'int32':
    case 'float':
      return 0
    case 'bool':
      return false
    case 'datetime':
      return EPOCH_DATETIME
    case 'ref':
      return NULL_REF
    case 'set':
      return []
    case 'map':
    case 'record':
    case 'struct':
      return {}
    case 'enum':
      return type.values[0] ?? ''
    default:
      return ''
  }
}

/** A field with a default (the type's zero value unless given). */
export function f(name: string, type: XapiType, access: FieldAccess = 'ro', dflt?: Value): FieldDef {
  return { name, type, access, default: dflt ?? zeroValue(type) }
}

/** A field `<Class>.create` requires (no default). */
export function required(name: string, type: XapiType, access: FieldAccess = 'rw'): FieldDef {
  return { name, type, access, default: undefined }
}

/**
 * A field `<Class>.create` requires from its caller (XAPI's datamodel gives it no default), with
 * the value the server uses when it makes the object itself (pool build, copies, imports).
 */
export function mandatory(name: string, type: XapiType, access: FieldAccess = 'rw', dflt?: Value): FieldDef {
  return { ...f(name, type, access, dflt), mandatoryInCreate: true }
}

/**
 * A bound (bidirectional) pair: `cls.field` is a ref whose target's `inverseField` set lists
 * the referring objects (xapi.md §2 intro: VBD.VM ↔ VM.VBDs, …).
 */
export interface Binding {
  readonly cls: string
  readonly field: string
  readonly inverseCls: string
  readonly inverseField: string
}
