import type { OvaDocument, OvaObject, OvaStruct, OvaValue } from '../../formats/xva/index.ts'
import { XmlRpcDateTime, XmlRpcDouble } from '../../formats/xva/index.ts'
import { newUuid } from '../../shared/ids.ts'
import type { SimulatorDb } from '../db.ts'
import { createVbd, createVdi, createVif, createVm } from '../objects.ts'
import { classSchema } from '../schema/index.ts'
import { zeroValue } from '../schema/field.ts'
import type { Value, XapiRecord, XapiType } from '../types.ts'
import { NULL_REF } from '../types.ts'
import { XapiFault } from '../xapi-fault.ts'

/** How an XVA's objects are created (xapi.md §3.2). */
export interface ImportRequest {
  readonly sr: string
  readonly task: string
  /** Keep the VM uuid and the MACs (and replace a VM with that uuid). */
  readonly restore: boolean
  readonly nowMs: number
}

/** What an import created: VMs in ova.xml order, VDIs by local id, and everything to remove on failure. */
export interface ImportedObjects {
  readonly vms: readonly string[]
  readonly vdis: ReadonlyMap<string, string>
  /** `[class, ref]` in creation order. */
  readonly created: readonly (readonly [string, string])[]
}

function fromOva(value: OvaValue | undefined, type: XapiType): Value | undefined {
  if (value === undefined) return undefined
  if (value instanceof XmlRpcDouble) return value.value
  if (value instanceof XmlRpcDateTime) return value.text
  switch (type.kind) {
    case 'int':
    case 'int32':
    case 'float': {
      const number = Number(value)
      return Number.isFinite(number) ? number : undefined
    }
    case 'bool':
      return typeof value === 'boolean' ? value : value === 'true' || value === '1'
    case 'enum': {
      // XO's minimal ova.xml writes `halted`; XAPI's enums are case-insensitive on input.
      if (typeof value !== 'string') return undefined
      return type.values.find((v) => v.toLowerCase() === value.toLowerCase())
    }
    case 'set':
      return Array.isArray(value)
        ? value.map((item: OvaValue) => fromOva(item, type.of) ?? zeroValue(type.of))
        : []
    case 'map':
      return typeof value === 'object' && !Array.isArray(value)
        ? Object.fromEntries(
            Object.entries(value as OvaStruct).map(([k, v]) => [k, fromOva(v, type.value) ?? '']),
          )
        : {}
    default:
      return typeof value === 'object' ? undefined : String(value)
  }
}

function isRefType(type: XapiType): boolean {
  return (
    type.kind === 'ref' ||
    ((type.kind === 'set' || type.kind === 'map') && isRefType(type.kind === 'set' ? type.of : type.value))
  )
}

/** The object's record for our schema: known fields coerced, absent ones defaulted, refs cleared (set by the caller). */
function recordOf(object: OvaObject): XapiRecord {
  const schema = classSchema(object.class)
  const record: XapiRecord = {}
  for (const field of schema?.fields ?? []) {
    if (isRefType(field.type)) continue
    const value = fromOva(object.snapshot[field.name], field.type)
    record[field.name] = value ?? field.default ?? zeroValue(field.type)
  }
  return record
}

function refOf(object: OvaObject, field: string): string {
  const value = object.snapshot[field]
  return typeof value === 'string' ? value : NULL_REF
}

function matchNetwork(db: SimulatorDb, object: OvaObject, created: [string, string][]): string {
  const record = recordOf(object)
  // Networks are matched by name_label, then bridge, else created (xapi.md §3.2 step 3).
  const [byName] = db.select('network', (n) => n.name_label === record.name_label)
  const [byBridge] = db.select('network', (n) => record.bridge !== '' && n.bridge === record.bridge)
  const existing = byName ?? byBridge
  if (existing !== undefined) return existing
  const ref = db.create('network', { ...record, uuid: '' })
  created.push(['network', ref])
  return ref
}

function createImportedVm(db: SimulatorDb, object: OvaObject, request: ImportRequest): string {
  const record = recordOf(object)
  const otherConfig: Record<string, string> = {
    ...(record.other_config as Record<string, string>),
    import_task: request.task,
  }
  if (!request.restore) otherConfig.mac_seed = newUuid()
  const uuid = request.restore ? (record.uuid as string) : ''
  if (request.restore) for (const old of db.select('VM', (vm) => vm.uuid === uuid)) removeVm(db, old)
  return createVm(
    db,
    {
      ...record,
      uuid,
      other_config: otherConfig,
      power_state: 'Halted',
      current_operations: { [request.task]: 'import' },
      allowed_operations: [],
      domid: -1,
      is_control_domain: false,
    },
    request.nowMs,
  )
}

function removeVm(db: SimulatorDb, vm: string): void {
  const record = db.get('VM', vm)
  for (const vbd of record.VBDs as string[]) db.destroy('VBD', vbd)
  for (const vif of record.VIFs as string[]) db.destroy('VIF', vif)
  db.destroy('VM', vm)
}

/**
 * Creates the objects of an XVA's graph (xapi.md §3.2 step 3): VDIs on the target SR (empty,
 * `sm_config.import_task`), networks matched or created, VMs Halted with a new uuid and
 * `mac_seed` unless `restore`, `other_config.import_task` and `current_operations = {task:
 * "import"}`, then VBDs and VIFs (MACs regenerated unless `restore`).
 */
export function createImportedObjects(
  db: SimulatorDb,
  ova: OvaDocument,
  request: ImportRequest,
): ImportedObjects {
  const created: [string, string][] = []
  try {
    return createAll(db, ova, request, created)
  } catch (error) {
    removeImportedObjects(db, { vms: [], vdis: new Map(), created })
    throw error
  }
}

function createAll(
  db: SimulatorDb,
  ova: OvaDocument,
  request: ImportRequest,
  created: [string, string][],
): ImportedObjects {
  const local = new Map<string, string>()
  const vdis = new Map<string, string>()
  const vms: string[] = []
  for (const object of ova.objects) {
    if (object.class === 'SR') local.set(object.id, request.sr)
    if (object.class === 'network') local.set(object.id, matchNetwork(db, object, created))
    if (object.class !== 'VDI') continue
    const record = recordOf(object)
    const sm = { ...(record.sm_config as Record<string, string>), import_task: request.task }
    const ref = createVdi(db, {
      ...record,
      uuid: newUuid(),
      SR: request.sr,
      sm_config: sm,
      physical_utilisation: 0,
    })
    created.push(['VDI', ref])
    local.set(object.id, ref)
    vdis.set(object.id, ref)
  }
  for (const object of ova.objects.filter((o) => o.class === 'VM')) {
    const ref = createImportedVm(db, object, request)
    created.push(['VM', ref])
    local.set(object.id, ref)
    vms.push(ref)
  }
  for (const object of ova.objects) {
    const vm = local.get(refOf(object, 'VM'))
    if (vm === undefined || (object.class !== 'VBD' && object.class !== 'VIF')) continue
    const record: XapiRecord = { ...recordOf(object), uuid: '', VM: vm, currently_attached: false }
    if (object.class === 'VBD') {
      const vdi = local.get(refOf(object, 'VDI')) ?? NULL_REF
      created.push(['VBD', createVbd(db, { ...record, VDI: vdi, empty: vdi === NULL_REF, device: '' })])
    } else {
      const network = local.get(refOf(object, 'network'))
      if (network === undefined)
        throw new XapiFault('IMPORT_ERROR_FAILED_TO_FIND_OBJECT', [refOf(object, 'network')])
      const mac = request.restore ? (record.MAC as string) : ''
      created.push(['VIF', createVif(db, { ...record, network, MAC: mac })])
    }
  }
  return { vms, vdis, created }
}

/** Removes what a failed import created, newest first (xapi.md §3.2: a failure leaves no VM behind). */
export function removeImportedObjects(db: SimulatorDb, imported: ImportedObjects): void {
  for (const [cls, ref] of [...imported.created].reverse()) {
    if (db.find(cls, ref) === undefined) continue
    if (cls === 'VM') {
      const metrics = db.get('VM', ref).metrics as string
      db.destroy('VM', ref)
      if (db.find('VM_metrics', metrics) !== undefined) db.destroy('VM_metrics', metrics)
    } else db.destroy(cls, ref)
  }
}
