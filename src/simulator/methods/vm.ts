import type { MethodDef } from '../context.ts'
import type { SimulatorDb } from '../db.ts'
import { method, p } from '../context.ts'
import { createVm, haltVm } from '../objects.ts'
import { vmSchema } from '../schema/vm.ts'
import type { XapiRecord } from '../types.ts'
import { NULL_REF, t } from '../types.ts'
import { XapiFault } from '../xapi-fault.ts'
import { constructorFields } from './accessors.ts'
import { assertVmOperation } from './vm-checks.ts'

const vmRef = t.ref('VM')

/** VM lifecycle methods (xapi.md §2.3): create, destroy, start, shutdowns, templates, operation checks. */
export function vmMethods(): MethodDef[] {
  return [
    method('VM.create', [p('args', t.record('VM'))], vmRef, (ctx, [args]) => {
      const fields = constructorFields(vmSchema, args as XapiRecord)
      return createVm(ctx.db, { ...fields, power_state: 'Halted' }, ctx.clock.now())
    }, { async: true }), // prettier-ignore
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
