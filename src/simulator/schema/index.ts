import type { XapiType } from '../types.ts'
import type { Binding, ClassSchema, FieldDef } from './field.ts'
import { hostSchema, poolSchema, sessionSchema, taskSchema } from './host.ts'
import { networkSchema, pifSchema, vifSchema } from './network.ts'
import { pbdSchema, srSchema, vbdSchema, vdiSchema } from './storage.ts'
import { vmGuestMetricsSchema, vmMetricsSchema, vmSchema } from './vm.ts'

/** Every class of the object database, in `system.listMethods` order. */
export const CLASSES: readonly ClassSchema[] = [
  sessionSchema, poolSchema, hostSchema, srSchema, pbdSchema, networkSchema, pifSchema, vmSchema,
  vmMetricsSchema, vmGuestMetricsSchema, vbdSchema, vdiSchema, vifSchema, taskSchema,
] // prettier-ignore

/** The bound field pairs kept consistent by the database (xapi.md §2 intro). */
export const BINDINGS: readonly Binding[] = [
  { cls: 'VBD', field: 'VM', inverseCls: 'VM', inverseField: 'VBDs' },
  { cls: 'VBD', field: 'VDI', inverseCls: 'VDI', inverseField: 'VBDs' },
  { cls: 'VIF', field: 'VM', inverseCls: 'VM', inverseField: 'VIFs' },
  { cls: 'VIF', field: 'network', inverseCls: 'network', inverseField: 'VIFs' },
  { cls: 'VDI', field: 'SR', inverseCls: 'SR', inverseField: 'VDIs' },
  { cls: 'VDI', field: 'snapshot_of', inverseCls: 'VDI', inverseField: 'snapshots' },
  { cls: 'VM', field: 'snapshot_of', inverseCls: 'VM', inverseField: 'snapshots' },
  { cls: 'VM', field: 'parent', inverseCls: 'VM', inverseField: 'children' },
  { cls: 'VM', field: 'resident_on', inverseCls: 'host', inverseField: 'resident_VMs' },
  { cls: 'PBD', field: 'SR', inverseCls: 'SR', inverseField: 'PBDs' },
  { cls: 'PBD', field: 'host', inverseCls: 'host', inverseField: 'PBDs' },
  { cls: 'PIF', field: 'network', inverseCls: 'network', inverseField: 'PIFs' },
  { cls: 'PIF', field: 'host', inverseCls: 'host', inverseField: 'PIFs' },
  { cls: 'task', field: 'subtask_of', inverseCls: 'task', inverseField: 'subtasks' },
]

const byName = new Map(CLASSES.map((c) => [c.name, c]))
const byLowerName = new Map(CLASSES.map((c) => [c.name.toLowerCase(), c]))
const fieldTypes = new Map(
  CLASSES.map((c) => [c.name, Object.fromEntries(c.fields.map((field) => [field.name, field.type]))]),
)

/** The schema of class `name` (exact table name), or undefined. */
export function classSchema(name: string): ClassSchema | undefined {
  return byName.get(name)
}

/** The schema whose name matches case-insensitively (event.from class names, xapi.md §1.7). */
export function classSchemaIgnoringCase(name: string): ClassSchema | undefined {
  return byLowerName.get(name.toLowerCase())
}

/** Field name → type of class `cls` (empty for unknown classes). */
export function recordTypes(cls: string): Readonly<Record<string, XapiType>> {
  return fieldTypes.get(cls) ?? {}
}

const constructorTypes = new Map(
  CLASSES.map((c) => [
    c.name,
    Object.fromEntries(c.fields.filter((f) => f.access !== 'ro').map((field) => [field.name, field.type])),
  ]),
)

/**
 * Field name → type of the fields `<cls>.create` reads (rw and ctor): what a constructor's record
 * parameter is unmarshalled by; its read-only fields are ignored whatever their value, as XAPI does.
 */
export function constructorRecordTypes(cls: string): Readonly<Record<string, XapiType>> {
  return constructorTypes.get(cls) ?? {}
}

/** The field `name` of `schema`, or undefined. */
export function fieldOf(schema: ClassSchema, name: string): FieldDef | undefined {
  return schema.fields.find((field) => field.name === name)
}
