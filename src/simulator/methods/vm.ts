import type { MethodDef } from '../context.ts'
import type { SimulatorDb } from '../db.ts'
import { method, p } from '../context.ts'
import { createVm, haltVm } from '../objects.ts'
import { vmSchema } from '../schema/vm.ts'
import type { XapiRecord } from '../types.ts'
import { NULL_REF, t } from '../types.ts'
import { XapiFault } from '../xapi-fault.ts'
import { constructorFields } from './accessors.ts'
import { destroyVdi } from './vdi-ops.ts'
import { assertVmOperation } from './vm-checks.ts'

const vmRef = t.ref('VM')

/** VM lifecycle methods (xapi.md §2.3): create, destroy, start, shutdowns, templates, operation checks. */
export function vmMethods(): MethodDef[] {
  return [
    method('VM.create', [p('args', t.record('VM'))], vmRef, (ctx, [args]) =>
      createVmFromRecord(ctx.db, args as XapiRecord, ctx.clock.now()),
    { async: true }), // prettier-ignore
    method('VM.destroy', [p('self', vmRef)], t.void, (ctx, [vm]) => {
      assertVmOperation(ctx.db, vm as string, 'destroy', ctx.operation)
      ctx.guests.stop(vm as string)
      destroyVm(ctx.db, vm as string)
      return ''
    }, { async: true, lockVm: 'destroy' }), // prettier-ignore
    method('VM.start', [p('vm', vmRef), p('start_paused', t.bool), p('force', t.bool)], t.void, (ctx, [vm, paused]) => {
      assertVmOperation(ctx.db, vm as string, 'start', ctx.operation)
      const master = ctx.db.all('pool')[0]?.[1].master as string
      const affinity = ctx.db.get('VM', vm as string).affinity as string
      const host = ctx.db.find('host', affinity) === undefined ? master : affinity
      ctx.guests.boot(vm as string, host)
      if (paused === true) ctx.db.update('VM', vm as string, { power_state: 'Paused' })
      return ''
    }, { async: true, lockVm: 'start' }), // prettier-ignore
    method('VM.clean_shutdown', [p('vm', vmRef)], t.void, (ctx, [vm]) => {
      assertVmOperation(ctx.db, vm as string, 'clean_shutdown', ctx.operation)
      ctx.guests.stop(vm as string)
      haltVm(ctx.db, vm as string)
      return ''
    }, { async: true, lockVm: 'clean_shutdown' }), // prettier-ignore
    method('VM.hard_shutdown', [p('vm', vmRef)], t.void, (ctx, [vm]) => {
      assertVmOperation(ctx.db, vm as string, 'hard_shutdown', ctx.operation)
      ctx.guests.stop(vm as string)
      const record = ctx.db.get('VM', vm as string)
      if (record.power_state === 'Suspended') {
        // A suspended VM's memory image goes with the suspended state (`xapi_vm.ml hard_shutdown`).
        const image = record.suspend_VDI as string
        if (ctx.db.find('VDI', image) !== undefined) destroyVdi(ctx.db, image)
        ctx.db.update('VM', vm as string, { suspend_VDI: NULL_REF })
      }
      haltVm(ctx.db, vm as string)
      return ''
    }, { async: true, lockVm: 'hard_shutdown' }), // prettier-ignore
    method('VM.set_is_a_template', [p('self', vmRef), p('value', t.bool)], t.void, (ctx, [vm, value]) => {
      // Turning a snapshot back into a non-template is allowed (XO does it before export, xapi.md §2.3).
      if (value === true) assertVmOperation(ctx.db, vm as string, 'make_into_template')
      ctx.db.update('VM', vm as string, { is_a_template: value as boolean })
      return ''
    }, { async: true }), // prettier-ignore
    method('VM.assert_operation_valid', [p('self', vmRef), p('op', t.string)], t.void, (ctx, [vm, op]) => {
      assertVmOperation(ctx.db, vm as string, op as string)
      return ''
    }, { async: true }), // prettier-ignore
    method('VM.update_allowed_operations', [p('self', vmRef)], t.void, (ctx, [vm]) => {
      ctx.db.get('VM', vm as string)
      return ''
    }, { async: true }), // prettier-ignore
    method('VM.get_allowed_VBD_devices', [p('vm', vmRef)], t.set(t.string), (ctx, [vm]) =>
      freeDevices(
        ctx.db.get('VM', vm as string).VBDs as string[],
        (r) => ctx.db.get('VBD', r).userdevice as string,
        16,
      ),
    ),
    method('VM.get_allowed_VIF_devices', [p('vm', vmRef)], t.set(t.string), (ctx, [vm]) =>
      freeDevices(
        ctx.db.get('VM', vm as string).VIFs as string[],
        (r) => ctx.db.get('VIF', r).device as string,
        7,
      ),
    ),
    method('VM.snapshot_with_quiesce', [p('vm', vmRef), p('new_name', t.string)], vmRef, () => {
      throw new XapiFault('MESSAGE_REMOVED', []) // removed since CH 8.1 (xapi.md §1.4)
    }, { async: true }), // prettier-ignore
  ]
}

/**
 * `VM.create(record)` as `xapi_vm.ml create` does it (xapi.md §2.3): the rw and ctor fields of the
 * record (mandatory ones must be there), the rest ignored; a new uuid, no VBD or VIF, Halted —
 * or Suspended when the record says so with a `suspend_VDI`, a `last_booted_record` and
 * `last_boot_CPU_flags` — and `blocked_operations` empty whatever the record holds (XAPI creates
 * the VM with none: set them after, with `VM.set_blocked_operations` or `add_to_blocked_operations`).
 */
export function createVmFromRecord(db: SimulatorDb, record: XapiRecord, nowMs: number): string {
  const fields = constructorFields(vmSchema, record)
  const state = fields.power_state as string
  const suspended = state === 'Suspended'
  if (state === 'Running' || state === 'Paused') {
    throw new XapiFault('VM_BAD_POWER_STATE', [
      'Bad power state for VM creation ',
      state.toLowerCase(),
      ' should be `Halted or `Suspended',
    ])
  }
  if (!suspended && fields.suspend_VDI !== NULL_REF) {
    throw new XapiFault('VM_BAD_POWER_STATE', [
      'No suspend_VDI should be provided if VM created in `Halted state',
    ])
  }
  const flags = fields.last_boot_CPU_flags as Readonly<Record<string, string>>
  if (
    suspended &&
    (fields.suspend_VDI === NULL_REF || fields.last_booted_record === '' || Object.keys(flags).length === 0)
  ) {
    throw new XapiFault('VM_BAD_POWER_STATE', [
      'VM created in `Suspended state needs a suspend_VDI, non empty last_booted_record and non empty last_boot_CPU_flags',
    ])
  }
  return createVm(
    db,
    {
      ...fields,
      blocked_operations: {},
      last_booted_record: suspended ? (fields.last_booted_record as string) : '',
      last_boot_CPU_flags: suspended ? flags : {},
    },
    nowMs,
  )
}

function freeDevices(refs: readonly string[], device: (ref: string) => string, count: number): string[] {
  const used = new Set(refs.map(device))
  return Array.from({ length: count }, (_, i) => String(i)).filter((d) => !used.has(d))
}

/** Deletes a VM with its VBDs, VIFs and metrics but not its VDIs (xapi.md §2.3, §8.5 #6). */
export function destroyVm(db: SimulatorDb, vm: string): void {
  const record = db.get('VM', vm)
  for (const vbd of record.VBDs as string[]) db.destroy('VBD', vbd)
  for (const vif of record.VIFs as string[]) db.destroy('VIF', vif)
  for (const child of record.children as string[])
    db.update('VM', child, { parent: record.parent ?? NULL_REF })
  for (const [cls, ref] of [
    ['VM_metrics', record.metrics],
    ['VM_guest_metrics', record.guest_metrics],
  ] as const) {
    if (db.find(cls, ref as string) !== undefined) db.destroy(cls, ref as string)
  }
  db.destroy('VM', vm)
}
