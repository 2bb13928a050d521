import { newUuid } from '../../shared/ids.ts'
import type { MethodDef } from '../context.ts'
import { method, p } from '../context.ts'
import type { SimulatorDb } from '../db.ts'
import { createVdi, createVm } from '../objects.ts'
import { randomMac } from '../pool/mac.ts'
import type { Value, XapiRecord } from '../types.ts'
import { EPOCH_DATETIME, NULL_REF, formatXapiDateTime, t } from '../types.ts'
import type { VdiCopyKind } from './vdi-ops.ts'
import { duplicateVdi } from './vdi-ops.ts'
import { assertVmOperation } from './vm-checks.ts'

type VmCopyKind = 'snapshot' | 'checkpoint' | 'clone' | 'copy'

// Fields the server owns: never copied to the new VM (`xapi_vm_clone.ml copy_vm_record`, xapi.md §2.3).
const NOT_COPIED = new Set([
  'uuid', 'allowed_operations', 'current_operations', 'blocked_operations', 'VBDs', 'VIFs', 'snapshots', 'children',
  'metrics', 'guest_metrics', 'resident_on', 'domid', 'consoles', 'crash_dumps', 'VTPMs', 'VUSBs', 'VGPUs',
  'attached_PCIs', 'parent', 'snapshot_of', 'snapshot_time', 'is_a_snapshot', 'snapshot_info', 'power_state',
  'suspend_VDI', 'ha_always_run', 'is_default_template', 'is_control_domain',
]) // prettier-ignore

interface CopyRequest {
  readonly kind: VmCopyKind
  readonly newName: string
  readonly sr: string | undefined
  readonly ignoreVdis: readonly string[]
  readonly nowMs: number
  readonly operation: string
}

function newVmFields(db: SimulatorDb, vm: string, request: CopyRequest): Record<string, Value> {
  const source = db.get('VM', vm)
  const fields: Record<string, Value> = {}
  for (const [name, value] of Object.entries(source)) if (!NOT_COPIED.has(name)) fields[name] = value
  const otherConfig = { ...(source.other_config as Record<string, string>) }
  delete otherConfig.default_template
  const isSnapshot = request.kind === 'snapshot' || request.kind === 'checkpoint'
  // Clones and copies get a fresh mac_seed; snapshots keep the source's (xapi.md §2.3).
  if (!isSnapshot) otherConfig.mac_seed = newUuid()
  const suspended = request.kind === 'checkpoint' && source.power_state !== 'Halted'
  return {
    ...fields,
    name_label: request.newName,
    other_config: otherConfig,
    is_a_snapshot: isSnapshot,
    is_a_template: isSnapshot ? true : source.is_a_template === true,
    snapshot_of: isSnapshot ? vm : NULL_REF,
    snapshot_time: isSnapshot ? formatXapiDateTime(request.nowMs) : EPOCH_DATETIME,
    snapshot_info: isSnapshot
      ? { 'power-state-at-snapshot': source.power_state as string, 'disk-snapshot-type': 'crash_consistent' }
      : {},
    power_state: suspended || (!isSnapshot && source.power_state === 'Suspended') ? 'Suspended' : 'Halted',
  }
}

function copyDisks(db: SimulatorDb, source: XapiRecord, target: string, request: CopyRequest): void {
  const vdiKind: VdiCopyKind = request.kind === 'checkpoint' ? 'snapshot' : request.kind
  for (const vbd of source.VBDs as string[]) {
    const record = db.get('VBD', vbd)
    let vdi = record.VDI as string
    if (record.empty !== true && record.type === 'Disk') {
      if (request.ignoreVdis.includes(vdi)) continue // ignore_vdis drops the disk from the snapshot
      vdi = duplicateVdi(db, vdi, vdiKind, request.nowMs, request.sr)
    }
    const { uuid: _u, VM: _vm, VDI: _vdi, device: _d, currently_attached: _c, ...rest } = record
    const otherConfig = { ...(record.other_config as Record<string, string>) }
    delete otherConfig.owner
    db.create('VBD', { ...rest, VM: target, VDI: vdi, other_config: otherConfig, currently_attached: false })
  }
  for (const vif of source.VIFs as string[]) {
    const { uuid: _u, VM: _vm, currently_attached: _c, MAC, ...rest } = db.get('VIF', vif)
    // Snapshots keep MACs; clones and copies get new ones (xapi.md §2.3).
    const mac = request.kind === 'snapshot' || request.kind === 'checkpoint' ? (MAC as string) : randomMac()
    db.create('VIF', { ...rest, VM: target, MAC: mac, currently_attached: false })
  }
}

/** The VDIs a copy of `vm` duplicates: those of its Disk VBDs that are not empty. */
function copiedDisks(db: SimulatorDb, vm: string): string[] {
  return (db.get('VM', vm).VBDs as string[])
    .map((vbd) => db.get('VBD', vbd))
    .filter((vbd) => vbd.empty !== true && vbd.type === 'Disk')
    .map((vbd) => vbd.VDI as string)
}

/** Snapshot, checkpoint, clone or copy of a VM, with XAPI's field rules (xapi.md §2.3, §8.5 #3 and #7). */
export function copyVm(db: SimulatorDb, vm: string, request: CopyRequest): string {
  assertVmOperation(db, vm, request.kind, request.operation)
  const source = db.get('VM', vm)
  const fields = newVmFields(db, vm, request)
  const isSnapshot = request.kind === 'snapshot' || request.kind === 'checkpoint'
  const copy = createVm(
    db,
    { ...fields, parent: isSnapshot ? (source.parent as string) : NULL_REF },
    request.nowMs,
  )
  copyDisks(db, source, copy, request)
  if (isSnapshot) db.update('VM', vm, { parent: copy })
  if (request.kind === 'checkpoint' && fields.power_state === 'Suspended') {
    const memory = createVdi(db, {
      name_label: `Suspend image: ${request.newName}`,
      SR: db.all('pool')[0]?.[1].default_SR as string,
      virtual_size: source.memory_static_max as number,
      type: 'suspend',
      is_a_snapshot: true,
    })
    db.update('VM', copy, { suspend_VDI: memory })
  }
  return copy
}

/** `VM.snapshot` (with `ignore_vdis`), `VM.checkpoint`, `VM.clone` and `VM.copy`. */
export function vmCopyMethods(): MethodDef[] {
  const vm = p('vm', t.ref('VM'))
  const newName = p('new_name', t.string)
  return [
    method('VM.snapshot', [vm, newName, p('ignore_vdis', t.set(t.ref('VDI')), [])], t.ref('VM'), (ctx, [v, n, ig]) =>
      copyVm(ctx.db, v as string, { kind: 'snapshot', newName: n as string, sr: undefined, ignoreVdis: (ig ?? []) as string[], nowMs: ctx.clock.now(), operation: ctx.operation }),
    { async: true, lockVm: 'snapshot' }), // prettier-ignore
    method('VM.checkpoint', [vm, newName], t.ref('VM'), (ctx, [v, n]) =>
      copyVm(ctx.db, v as string, { kind: 'checkpoint', newName: n as string, sr: undefined, ignoreVdis: [], nowMs: ctx.clock.now(), operation: ctx.operation }),
    { async: true, lockVm: 'checkpoint' }), // prettier-ignore
    method('VM.clone', [vm, newName], t.ref('VM'), (ctx, [v, n]) =>
      copyVm(ctx.db, v as string, { kind: 'clone', newName: n as string, sr: undefined, ignoreVdis: [], nowMs: ctx.clock.now(), operation: ctx.operation }),
    { async: true, lockVm: 'clone' }), // prettier-ignore
    method('VM.copy', [vm, newName, p('sr', t.ref('SR'))], t.ref('VM'), (ctx, [v, n, sr]) => {
      const target = sr === NULL_REF || ctx.db.find('SR', sr as string) === undefined ? undefined : (sr as string)
      assertVmOperation(ctx.db, v as string, 'copy', ctx.operation)
      // Full copies take room on the target SR: checked for every disk before any is copied.
      ctx.storage.assertRoomForCopies(copiedDisks(ctx.db, v as string), target)
      return copyVm(ctx.db, v as string, { kind: 'copy', newName: n as string, sr: target, ignoreVdis: [], nowMs: ctx.clock.now(), operation: ctx.operation })
    }, { async: true, lockVm: 'copy' }), // prettier-ignore
  ]
}
