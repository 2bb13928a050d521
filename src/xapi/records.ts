import type { XapiClass, XapiRecords } from './record-types.ts'
import type { XapiEvent, XapiEventBatch, XapiValue } from './types.ts'
import { XapiProtocolError } from './xapi-error.ts'

// 64-bit int fields of each typed class: XML-RPC sends them as digit strings (xapi.md §1.2).
const INT_FIELDS: { readonly [C in XapiClass]: readonly string[] } = {
  VM: [
    'memory_static_min',
    'memory_static_max',
    'memory_dynamic_min',
    'memory_dynamic_max',
    'memory_overhead',
    'memory_target',
    'VCPUs_max',
    'VCPUs_at_startup',
    'domid',
    'user_version',
    'order',
    'start_delay',
    'shutdown_delay',
    'generation_id_int',
  ],
  VBD: [],
  VDI: ['virtual_size', 'physical_utilisation'],
  VIF: ['MTU'],
  SR: ['physical_size', 'physical_utilisation', 'virtual_allocation'],
  network: ['MTU'],
  host: ['API_version_major', 'API_version_minor', 'memory_overhead', 'cpu_count'],
  pool: [],
  task: [],
}

const CLASS_BY_LOWERCASE = new Map(Object.keys(INT_FIELDS).map((c) => [c.toLowerCase(), c as XapiClass]))

type MutableStruct = { [key: string]: XapiValue }

function isStruct(value: unknown): value is { readonly [key: string]: XapiValue } {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Checks that `value` is a record of `cls` and returns it typed, with its 64-bit int fields turned
 * from XML-RPC digit strings into numbers so both transports give the same record.
 */
export function normalizeRecord<C extends XapiClass>(
  cls: C,
  value: XapiValue,
  where: string,
): XapiRecords[C] {
  if (!isStruct(value)) throw new XapiProtocolError(where, `a ${cls} record`, JSON.stringify(value))
  const out: MutableStruct = { ...value }
  for (const field of INT_FIELDS[cls]) {
    const raw = out[field]
    if (typeof raw === 'string' && /^-?\d+$/.test(raw)) out[field] = Number(raw)
  }
  return out as unknown as XapiRecords[C]
}

/** Normalises a ref→record map of `cls` (`get_all_records`). */
export function normalizeRecordMap<C extends XapiClass>(
  cls: C,
  value: XapiValue,
  where: string,
): Map<string, XapiRecords[C]> {
  if (!isStruct(value)) throw new XapiProtocolError(where, `a map of ${cls} records`, JSON.stringify(value))
  return new Map(
    Object.entries(value).map(([ref, record]) => [ref, normalizeRecord(cls, record, `${where}[${ref}]`)]),
  )
}

function isOperation(value: XapiValue | undefined): value is XapiEvent['operation'] {
  return value === 'add' || value === 'mod' || value === 'del'
}

function toNumber(value: XapiValue | undefined): number {
  return typeof value === 'number' ? value : Number(value)
}

/**
 * Checks and normalises an `event.from` answer (xapi.md §1.7): typed classes get normalised
 * snapshots, `valid_ref_counts` become numbers.
 */
export function normalizeEventBatch(value: XapiValue, where: string): XapiEventBatch {
  if (!isStruct(value) || typeof value.token !== 'string' || !Array.isArray(value.events)) {
    throw new XapiProtocolError(
      where,
      '{events, token, valid_ref_counts}',
      JSON.stringify(value).slice(0, 200),
    )
  }
  const events = (value.events as readonly XapiValue[]).map((raw): XapiEvent => {
    if (!isStruct(raw) || typeof raw.ref !== 'string' || typeof raw.class !== 'string') {
      throw new XapiProtocolError(
        where,
        'an event {class, operation, ref}',
        JSON.stringify(raw).slice(0, 200),
      )
    }
    const operation = raw.operation
    if (!isOperation(operation))
      throw new XapiProtocolError(where, 'operation add, mod or del', valueText(operation))
    const cls = CLASS_BY_LOWERCASE.get(raw.class.toLowerCase())
    const base = { id: valueText(raw.id), class: raw.class, operation, ref: raw.ref }
    if (raw.snapshot === undefined || operation === 'del') return base
    const snapshot =
      cls === undefined ? raw.snapshot : normalizeRecord(cls, raw.snapshot, `${where} ${raw.class}`)
    return { ...base, snapshot: snapshot as { readonly [field: string]: XapiValue } }
  })
  const counts = isStruct(value.valid_ref_counts) ? value.valid_ref_counts : {}
  const validRefCounts = Object.fromEntries(Object.entries(counts).map(([cls, n]) => [cls, toNumber(n)]))
  return { events, token: value.token, valid_ref_counts: validRefCounts }
}

/** `value` if it is a string (a ref, a token…), else XapiProtocolError naming `where`. */
export function expectString(value: XapiValue, where: string): string {
  if (typeof value !== 'string') throw new XapiProtocolError(where, 'a string', JSON.stringify(value))
  return value
}

/** A readable rendering of any wire value (strings as is, the rest as JSON). */
export function valueText(value: XapiValue | undefined): string {
  if (value === undefined) return ''
  return typeof value === 'string' ? value : JSON.stringify(value)
}
