// The records of VM.create, VDI.create, VBD.create and VIF.create made from the records of a
// backup or a delta export (xapi.md §2.3–2.6): pure, tested with tables. Records from metadata are
// outside input: each field is copied only when it has the type XAPI expects, refs of the source
// pool (affinity, suspend_VDI, metrics, parent…) are never copied, and maps keep string values only.
import type { XapiRef, XapiValue } from '../../xapi/types.ts'
import type { LooseRecord } from './network-mapping.ts'

/** A record for a XAPI constructor: field → wire value. */
export type CreateFields = { [field: string]: XapiValue }

/** The null ref (xapi.md §1.5). */
export const NULL_REF = 'OpaqueRef:NULL'

/** Blocked while a VM is imported, so nobody starts half a VM (XO's `start`/`start_on`, reference §4 step 2). */
export const IMPORTING_BLOCKED_OPERATIONS: Readonly<Record<string, string>> = {
  start: 'Importing…',
  start_on: 'Importing…',
}

const isString = (value: unknown): value is string => typeof value === 'string'
const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value)

/** A string→string map field: non-string values (XO stores `null` for removed keys) are dropped. */
export function stringMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return out
  for (const [key, item] of Object.entries(value as Record<string, unknown>))
    if (typeof item === 'string') out[key] = item
  return out
}

/** A set-of-strings field: non-strings are dropped, duplicates kept once. */
export function stringSet(value: unknown): string[] {
  return Array.isArray(value) ? [...new Set(value.filter(isString))] : []
}

// VM.create's configuration fields by wire type (datamodel_vm.ml: rw and constructor fields that
// are not refs); everything else of a record (uuid, power_state, VBDs, refs…) is the pool's own.
const VM_STRINGS = [
  'name_description', 'PV_bootloader', 'PV_kernel', 'PV_ramdisk', 'PV_args', 'PV_bootloader_args',
  'PV_legacy_args', 'HVM_boot_policy', 'PCI_bus', 'recommendations', 'ha_restart_priority',
  'domain_type',
] as const // prettier-ignore
const VM_NUMBERS = ['user_version', 'HVM_shadow_multiplier', 'order', 'start_delay', 'shutdown_delay', 'hardware_platform_version'] as const // prettier-ignore
const VM_MAPS = ['VCPUs_params', 'HVM_boot_params', 'platform', 'xenstore_data', 'NVRAM'] as const
const VM_BOOLEANS = ['has_vendor_device'] as const
// Fields the datamodel gives no default, so VM.create fails without them: their empty values when
// the record lacks them (XO's metadata of a snapshot may hold a few fields only).
const VM_REQUIRED_STRINGS = [
  'name_description', 'PV_bootloader', 'PV_kernel', 'PV_ramdisk', 'PV_args', 'PV_bootloader_args',
  'PV_legacy_args', 'HVM_boot_policy', 'PCI_bus', 'recommendations',
] as const // prettier-ignore
const MEMORY_FIELDS = [
  'memory_static_min',
  'memory_dynamic_min',
  'memory_dynamic_max',
  'memory_static_max',
] as const
// What a record without its memory gets: a VM the user can resize, rather than one XAPI refuses.
const DEFAULT_MEMORY_BYTES = 1024 ** 3
// XAPI's values for a new VM (xapi.md §2.1), when the record has none or an unknown one.
const ACTIONS = {
  actions_after_shutdown: { values: ['destroy', 'restart'], fallback: 'destroy' },
  actions_after_reboot: { values: ['destroy', 'restart'], fallback: 'restart' },
  actions_after_crash: {
    values: [
      'destroy',
      'coredump_and_destroy',
      'restart',
      'coredump_and_restart',
      'preserve',
      'rename_restart',
    ],
    fallback: 'restart',
  },
} as const

const isCount = (value: unknown): value is number =>
  isNumber(value) && Number.isSafeInteger(value) && value > 0

/**
 * The four memory fields: the record's when all four are there and ordered (static_min ≤
 * dynamic_min ≤ dynamic_max ≤ static_max), else the largest one given (or DEFAULT_MEMORY_BYTES) for all.
 */
function memoryOf(vm: LooseRecord): Record<(typeof MEMORY_FIELDS)[number], number> {
  const given = MEMORY_FIELDS.map((field) => vm[field])
  const ordered = given.every(isCount) && given.every((v, i) => i === 0 || (given[i - 1] as number) <= v)
  const uniform = given.filter(isCount).reduce((a, b) => Math.max(a, b), 0) || DEFAULT_MEMORY_BYTES
  return Object.fromEntries(
    MEMORY_FIELDS.map((field, i) => [field, ordered ? (given[i] as number) : uniform]),
  ) as Record<(typeof MEMORY_FIELDS)[number], number>
}

/** VCPUs_max and VCPUs_at_startup: the record's, the one given for both, or 1; at_startup ≤ max. */
function vcpusOf(vm: LooseRecord): { VCPUs_max: number; VCPUs_at_startup: number } {
  const max = isCount(vm.VCPUs_max) ? vm.VCPUs_max : undefined
  const atStartup = isCount(vm.VCPUs_at_startup) ? vm.VCPUs_at_startup : undefined
  const VCPUs_max = Math.max(max ?? atStartup ?? 1, atStartup ?? 1)
  return { VCPUs_max, VCPUs_at_startup: Math.min(atStartup ?? VCPUs_max, VCPUs_max) }
}

/** What planVmCreate sets over the record's own values. */
export interface VmCreateOverrides {
  readonly nameLabel: string
  readonly tags: readonly string[]
  readonly otherConfig: Readonly<Record<string, string>>
  /** Merged over the record's blocked operations (IMPORTING_BLOCKED_OPERATIONS during an import). */
  readonly blockedOperations: Readonly<Record<string, string>>
}

/**
 * The VM.create record of a VM like `vm`: its configuration fields of the right type (with XAPI's
 * values for a new VM, or 1 GiB of memory, where the record lacks a field VM.create requires),
 * never a template, a snapshot or HA-protected (reference §4 step 2), with `overrides` for the
 * name, tags, other_config and blocked operations (XAPI ignores those in VM.create: set them after
 * too); refs (affinity, suspend_VDI…) stay NULL.
 */
export function planVmCreate(vm: LooseRecord, overrides: VmCreateOverrides): CreateFields {
  const out: CreateFields = { user_version: 1, ...memoryOf(vm), ...vcpusOf(vm) }
  for (const field of VM_REQUIRED_STRINGS) out[field] = ''
  out.HVM_boot_params = {}
  out.platform = {}
  out.VCPUs_params = {}
  for (const [field, { values, fallback }] of Object.entries(ACTIONS)) {
    const value = vm[field]
    out[field] = isString(value) && (values as readonly string[]).includes(value) ? value : fallback
  }
  for (const field of VM_STRINGS) if (isString(vm[field])) out[field] = vm[field]
  for (const field of VM_NUMBERS) if (isNumber(vm[field])) out[field] = vm[field]
  for (const field of VM_MAPS) if (vm[field] !== undefined) out[field] = stringMap(vm[field])
  for (const field of VM_BOOLEANS) if (typeof vm[field] === 'boolean') out[field] = vm[field]
  return {
    ...out,
    name_label: overrides.nameLabel,
    is_a_template: false,
    is_a_snapshot: false,
    ha_always_run: false,
    affinity: NULL_REF,
    tags: [...new Set(overrides.tags)],
    other_config: overrides.otherConfig,
    blocked_operations: { ...stringMap(vm.blocked_operations), ...overrides.blockedOperations },
  }
}

// VDI types a VDI.create may name for a guest disk (xapi.md §2.5); others (suspend, cbt_metadata…) become 'user'.
const DISK_TYPES = new Set(['system', 'user', 'ephemeral'])

/** The VDI.create record of a disk like `vdi` on `srRef`, `virtualSizeBytes` big, with `otherConfig`. */
export function planVdiCreate(
  vdi: LooseRecord,
  options: {
    readonly srRef: XapiRef
    readonly virtualSizeBytes: number
    readonly otherConfig: Readonly<Record<string, string>>
  },
): CreateFields {
  return {
    name_label: isString(vdi.name_label) ? vdi.name_label : '',
    name_description: isString(vdi.name_description) ? vdi.name_description : '',
    SR: options.srRef,
    virtual_size: options.virtualSizeBytes,
    type: isString(vdi.type) && DISK_TYPES.has(vdi.type) ? vdi.type : 'user',
    sharable: vdi.sharable === true,
    // The import writes it: a read-only VDI could not be attached to write it (VDI_READONLY).
    read_only: false,
    other_config: options.otherConfig,
    xenstore_data: stringMap(vdi.xenstore_data),
    // sm_config belongs to the SR's backend (vhd-parent, vdi_type…): never copied from another SR.
    sm_config: {},
    tags: stringSet(vdi.tags),
  }
}

/** The VBD.create record of a disk VBD like `vbd` between `vmRef` and `vdiRef`. */
export function planVbdCreate(
  vbd: LooseRecord,
  options: { readonly vmRef: XapiRef; readonly vdiRef: XapiRef },
): CreateFields {
  const userdevice =
    isString(vbd.userdevice) && /^\d{1,3}$/.test(vbd.userdevice) ? vbd.userdevice : 'autodetect'
  return {
    VM: options.vmRef,
    VDI: options.vdiRef,
    userdevice,
    bootable: vbd.bootable === true,
    mode: vbd.mode === 'RO' ? 'RO' : 'RW',
    type: 'Disk',
    unpluggable: vbd.unpluggable === true,
    empty: false,
    other_config: stringMap(vbd.other_config),
    qos_algorithm_type: isString(vbd.qos_algorithm_type) ? vbd.qos_algorithm_type : '',
    qos_algorithm_params: stringMap(vbd.qos_algorithm_params),
  }
}

const LOCKING_MODES = new Set(['network_default', 'locked', 'unlocked', 'disabled'])
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i

/**
 * The VIF.create record of a VIF like `vif` on `vmRef` and `networkRef` as device `device`: its MAC
 * kept unless `newMac` (an empty MAC makes XAPI generate one from the VM's mac_seed) or malformed.
 */
export function planVifCreate(
  vif: LooseRecord,
  options: {
    readonly vmRef: XapiRef
    readonly networkRef: XapiRef
    readonly device: string
    readonly newMac: boolean
  },
): CreateFields {
  const mac = !options.newMac && isString(vif.MAC) && MAC.test(vif.MAC) ? vif.MAC : ''
  const mtu = isNumber(vif.MTU) && Number.isInteger(vif.MTU) && vif.MTU > 0 ? vif.MTU : 1500
  return {
    device: options.device,
    network: options.networkRef,
    VM: options.vmRef,
    MAC: mac,
    MTU: mtu,
    other_config: stringMap(vif.other_config),
    qos_algorithm_type: isString(vif.qos_algorithm_type) ? vif.qos_algorithm_type : '',
    qos_algorithm_params: stringMap(vif.qos_algorithm_params),
    locking_mode:
      isString(vif.locking_mode) && LOCKING_MODES.has(vif.locking_mode)
        ? vif.locking_mode
        : 'network_default',
    ipv4_allowed: stringSet(vif.ipv4_allowed),
    ipv6_allowed: stringSet(vif.ipv6_allowed),
  }
}

/**
 * The device number of each VIF (keyed like `vifs`): its own when it is a free decimal number,
 * else the lowest number left free, in key order, so two VIFs never claim one device.
 */
export function planVifDevices(vifs: Readonly<Record<string, LooseRecord>>): Map<string, string> {
  const out = new Map<string, string>()
  const used = new Set<string>()
  const later: string[] = []
  for (const [key, vif] of Object.entries(vifs)) {
    const device = vif.device
    if (isString(device) && /^\d{1,3}$/.test(device) && !used.has(String(Number(device)))) {
      used.add(String(Number(device)))
      out.set(key, String(Number(device)))
    } else later.push(key)
  }
  let next = 0
  for (const key of later) {
    while (used.has(String(next))) next++
    used.add(String(next))
    out.set(key, String(next))
  }
  return out
}
