import type { OvaDocument, OvaObject, OvaStruct, OvaValue } from '../../formats/xva/index.ts'
import { XmlRpcDateTime, XmlRpcDouble } from '../../formats/xva/index.ts'
import type { SimulatorDb } from '../db.ts'
import { classSchema } from '../schema/index.ts'
import type { Value, XapiRecord, XapiType } from '../types.ts'
import { EPOCH_DATETIME, NULL_REF, formatXapiDateTime } from '../types.ts'

/** The ova.xml graph of a VM export and the VDIs whose data follows it (local id → VDI ref). */
export interface VmExportGraph {
  readonly ova: OvaDocument
  readonly disks: ReadonlyMap<string, string>
}

type LocalIds = ReadonlyMap<string, string>

function toOva(value: Value, type: XapiType, ids: LocalIds): OvaValue {
  switch (type.kind) {
    case 'float':
      return new XmlRpcDouble(value as number)
    case 'datetime':
      return new XmlRpcDateTime(value as string)
    case 'ref':
      // Refs become the local ids of exported objects, or NULL (export.ml make_*; xapi.md §4).
      return ids.get(value as string) ?? NULL_REF
    case 'set': {
      const items = value as readonly Value[]
      const kept = type.of.kind === 'ref' ? items.filter((item) => ids.has(item as string)) : items
      return kept.map((item) => toOva(item, type.of, ids))
    }
    case 'map':
      return Object.fromEntries<OvaValue>(
        Object.entries(value as Record<string, Value>).map(([k, v]) => [k, toOva(v, type.value, ids)]),
      )
    default:
      return value as OvaValue
  }
}

function snapshotOf(db: SimulatorDb, cls: string, ref: string, ids: LocalIds, patch: XapiRecord): OvaStruct {
  const record = { ...db.get(cls, ref), ...patch }
  const schema = classSchema(cls)
  const out: Record<string, OvaValue> = {}
  for (const field of schema?.fields ?? []) {
    const value = record[field.name]
    if (value !== undefined) out[field.name] = toOva(value, field.type, ids)
  }
  return out
}

/** The XAPI version the simulator claims in ova.xml and checks imports against (XCP-ng 8.3's xapi 24.19). */
export const SIMULATED_XAPI_VERSION = { major: 24, minor: 19 } as const

// Fields a plain export resets (xapi.md §4: export.ml, preserve_power_state=false).
const VM_EXPORT_PATCH: XapiRecord = {
  current_operations: {},
  allowed_operations: [],
  is_a_snapshot: false,
  snapshot_of: NULL_REF,
  snapshots: [],
  snapshot_time: EPOCH_DATETIME,
  parent: NULL_REF,
  power_state: 'Halted',
  suspend_VDI: NULL_REF,
}

function collect(db: SimulatorDb, vm: string): [string, string][] {
  const record = db.get('VM', vm)
  const objects: [string, string][] = [['VM', vm]]
  const srs = new Set<string>()
  const networks = new Set<string>()
  for (const vbd of record.VBDs as string[]) {
    objects.push(['VBD', vbd])
    const vbdRecord = db.get('VBD', vbd)
    const vdi = vbdRecord.VDI as string
    // CD drives' VDIs (ISOs) are not streamed; their VBDs stay, empty (xapi.md §4).
    if (vbdRecord.type === 'Disk' && vbdRecord.empty !== true && db.find('VDI', vdi) !== undefined) {
      objects.push(['VDI', vdi])
      srs.add(db.get('VDI', vdi).SR as string)
    }
  }
  for (const vif of record.VIFs as string[]) {
    objects.push(['VIF', vif])
    networks.add(db.get('VIF', vif).network as string)
  }
  for (const network of networks)
    if (db.find('network', network) !== undefined) objects.push(['network', network])
  for (const sr of srs) if (db.find('SR', sr) !== undefined) objects.push(['SR', sr])
  return objects
}

/**
 * Builds the ova.xml of `/export` for `vm` (xapi.md §4): VM, its VBDs, VIFs, networks, disk VDIs
 * and their SRs as full records with refs rewritten to `Ref:<n>` local ids (or NULL when not
 * exported), with the fields a plain export clears, and the export `version` header.
 */
export function buildVmExport(db: SimulatorDb, vm: string, host: string, nowMs: number): VmExportGraph {
  const members = collect(db, vm)
  const ids = new Map(members.map(([, ref], n) => [ref, `Ref:${n}`]))
  const patches: Readonly<Record<string, XapiRecord>> = {
    VM: VM_EXPORT_PATCH,
    VBD: { currently_attached: false, current_operations: {}, allowed_operations: [] },
    VIF: { currently_attached: false, current_operations: {}, allowed_operations: [] },
    SR: { PBDs: [], current_operations: {}, allowed_operations: [] },
    network: { PIFs: [] },
    VDI: { current_operations: {}, allowed_operations: [] },
  }
  const objects: OvaObject[] = members.map(([cls, ref]) => ({
    class: cls,
    id: ids.get(ref) ?? NULL_REF,
    snapshot: snapshotOf(db, cls, ref, ids, patches[cls] ?? {}),
  }))
  const hostRecord = db.get('host', host)
  const software = hostRecord.software_version as Readonly<Record<string, string>>
  const version: OvaStruct = {
    hostname: hostRecord.hostname as string,
    date: formatXapiDateTime(nowMs).slice(0, 8),
    product_version: software.product_version ?? '8.3.0',
    product_brand: software.product_brand ?? 'XCP-ng',
    build_number: 'simulated',
    xapi_major: SIMULATED_XAPI_VERSION.major,
    xapi_minor: SIMULATED_XAPI_VERSION.minor,
    export_vsn: 2,
  }
  const disks = new Map(members.filter(([cls]) => cls === 'VDI').map(([, ref]) => [ids.get(ref) ?? '', ref]))
  return { ova: { version, objects }, disks }
}
