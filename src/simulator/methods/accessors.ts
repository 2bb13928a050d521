import type { MethodDef } from '../context.ts'
import { method, p } from '../context.ts'
import type { ClassSchema, FieldDef } from '../schema/field.ts'
import type { Value, XapiRecord, XapiType } from '../types.ts'
import { t } from '../types.ts'
import { XapiFault } from '../xapi-fault.ts'

/**
 * The generic accessors of one class, generated from its field table (xapi.md §1.5):
 * get_record, get_all, get_all_records, get_by_uuid, get_by_name_label, get_<f>, set_<f>
 * (rw fields), add_to_<f>/remove_from_<f> (rw maps), add_<f>/remove_<f> (rw sets).
 */
export function accessorMethods(schema: ClassSchema): MethodDef[] {
  const cls = schema.name
  const self = p('self', t.ref(cls))
  const methods: MethodDef[] = [
    method(`${cls}.get_record`, [self], t.record(cls), (ctx, [ref]) => ctx.db.get(cls, ref as string)),
    method(`${cls}.get_all`, [], t.set(t.ref(cls)), (ctx) => ctx.db.all(cls).map(([ref]) => ref)),
    method(`${cls}.get_all_records`, [], t.map(t.ref(cls), t.record(cls)), (ctx) =>
      Object.fromEntries(ctx.db.all(cls)),
    ),
    method(`${cls}.get_by_uuid`, [p('uuid', t.string)], t.ref(cls), (ctx, [uuid]) => {
      const ref = ctx.db.select(cls, (r) => r.uuid === uuid)[0]
      if (ref === undefined) throw new XapiFault('UUID_INVALID', [cls, uuid as string])
      return ref
    }),
  ]
  if (schema.fields.some((field) => field.name === 'name_label')) {
    methods.push(
      method(`${cls}.get_by_name_label`, [p('label', t.string)], t.set(t.ref(cls)), (ctx, [label]) =>
        ctx.db.select(cls, (r) => r.name_label === label),
      ),
    )
  }
  for (const field of schema.fields) methods.push(...fieldMethods(cls, field))
  return methods
}

function fieldMethods(cls: string, field: FieldDef): MethodDef[] {
  const self = p('self', t.ref(cls))
  const name = field.name
  const getter = method(
    `${cls}.get_${name}`,
    [self],
    field.type,
    (ctx, [ref]) => ctx.db.get(cls, ref as string)[name] as Value,
  )
  if (field.access !== 'rw') return [getter]
  const setter = method(`${cls}.set_${name}`, [self, p('value', field.type)], t.void, (ctx, [ref, value]) => {
    ctx.db.update(cls, ref as string, { [name]: value as Value })
    return ''
  })
  if (field.type.kind === 'map')
    return [getter, setter, ...mapMethods(cls, name, field.type.key, field.type.value)]
  if (field.type.kind === 'set') return [getter, setter, ...setMethods(cls, name, field.type.of)]
  return [getter, setter]
}

function mapMethods(cls: string, name: string, key: XapiType, value: XapiType): MethodDef[] {
  const self = p('self', t.ref(cls))
  return [
    method(`${cls}.add_to_${name}`, [self, p('key', key), p('value', value)], t.void, (ctx, [ref, k, v]) => {
      const record = ctx.db.get(cls, ref as string)
      const map = record[name] as Record<string, Value>
      // MAP_DUPLICATE_KEY [class, field, uuid, key] (xapi.md §1.5): add_to_ never overwrites.
      if (Object.hasOwn(map, k as string)) {
        throw new XapiFault('MAP_DUPLICATE_KEY', [cls, name, record.uuid as string, k as string])
      }
      ctx.db.update(cls, ref as string, { [name]: { ...map, [k as string]: v as Value } })
      return ''
    }),
    method(`${cls}.remove_from_${name}`, [self, p('key', key)], t.void, (ctx, [ref, k]) => {
      const map = ctx.db.get(cls, ref as string)[name] as Record<string, Value>
      if (!Object.hasOwn(map, k as string)) return '' // removing an absent key succeeds (xapi.md §8.5 #8)
      const { [k as string]: _removed, ...rest } = map
      ctx.db.update(cls, ref as string, { [name]: rest })
      return ''
    }),
  ]
}

function setMethods(cls: string, name: string, of: XapiType): MethodDef[] {
  const self = p('self', t.ref(cls))
  return [
    method(`${cls}.add_${name}`, [self, p('value', of)], t.void, (ctx, [ref, v]) => {
      const set = ctx.db.get(cls, ref as string)[name] as readonly Value[]
      if (!set.includes(v as Value)) ctx.db.update(cls, ref as string, { [name]: [...set, v as Value] })
      return ''
    }),
    method(`${cls}.remove_${name}`, [self, p('value', of)], t.void, (ctx, [ref, v]) => {
      const set = ctx.db.get(cls, ref as string)[name] as readonly Value[]
      if (set.includes(v as Value)) ctx.db.update(cls, ref as string, { [name]: set.filter((x) => x !== v) })
      return ''
    }),
  ]
}

/**
 * The `<Class>.create(record)` constructor (XAPI's generated server, `gen_server.ml`): takes the rw
 * and ctor fields; other fields of the record are never read; a mandatory one that is absent fails
 * `INTERNAL_ERROR ["Server_helpers.Dispatcher_FieldNotFound(\"<field>\")"]`.
 */
export function constructorFields(schema: ClassSchema, given: XapiRecord): Record<string, Value> {
  const out: Record<string, Value> = {}
  for (const field of schema.fields) {
    if (field.access === 'ro') continue
    const value = given[field.name] ?? (field.mandatoryInCreate === true ? undefined : field.default)
    if (value === undefined) {
      throw new XapiFault('INTERNAL_ERROR', [`Server_helpers.Dispatcher_FieldNotFound("${field.name}")`])
    }
    out[field.name] = value
  }
  return out
}
