import type { SimulatorContext } from '../context.ts'
import { XapiFault, handleInvalid } from '../xapi-fault.ts'
import { HttpRefusal } from './data-task.ts'

/** Resolves a handler parameter that is a ref **or** a uuid of `cls` (xapi.md §3.3–3.4); absent → 400. */
export function resolveRefOrUuid(
  ctx: SimulatorContext,
  cls: string,
  name: string,
  value: string | null,
): string {
  if (value === null || value === '')
    throw new HttpRefusal(400, 'INTERNAL_ERROR', [`missing parameter ${name}`])
  if (ctx.db.find(cls, value) !== undefined) return value
  const [byUuid] = ctx.db.select(cls, (record) => record.uuid === value)
  if (byUuid === undefined) {
    throw value.startsWith('OpaqueRef:')
      ? handleInvalid(cls, value)
      : new XapiFault('UUID_INVALID', [cls, value])
  }
  return byUuid
}

/**
 * Attaches `vdi` to the control domain through a temporary VBD, as XAPI does while it reads or
 * writes a disk for an HTTP handler (xapi.md §3.3): `VDI.destroy` meanwhile fails VDI_IN_USE.
 * Returns the detach.
 */
export function attachToDom0(ctx: SimulatorContext, vdi: string, mode: 'RO' | 'RW'): () => void {
  const [dom0] = ctx.db.select('VM', (record) => record.is_control_domain === true)
  if (dom0 === undefined) return () => undefined
  const vbd = ctx.db.create('VBD', {
    VM: dom0,
    VDI: vdi,
    userdevice: 'autodetect',
    bootable: false,
    mode,
    type: 'Disk',
    empty: false,
    currently_attached: true,
    device: 'xvdz',
  })
  return () => {
    if (ctx.db.find('VBD', vbd) !== undefined) ctx.db.destroy('VBD', vbd)
  }
}

/** Raises VDI_INCOMPATIBLE_TYPE for a `cbt_metadata` VDI, whose data is gone (xapi.md §6.1). */
export function assertHasData(ctx: SimulatorContext, vdi: string): void {
  if (ctx.db.get('VDI', vdi).type === 'cbt_metadata')
    throw new XapiFault('VDI_INCOMPATIBLE_TYPE', [vdi, 'cbt_metadata'])
}
