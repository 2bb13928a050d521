import type { CallContext, MethodDef } from '../context.ts'
import { method, p } from '../context.ts'
import { t } from '../types.ts'
import { XapiFault } from '../xapi-fault.ts'
import { assertNotCbtMetadata, isVdiAttached } from './vdi-ops.ts'

const vdiRef = t.ref('VDI')
const NBD_INFO = t.struct({
  exportname: t.string,
  address: t.string,
  port: t.int,
  cert: t.string,
  subject: t.string,
})

/** The checks of enable_cbt/disable_cbt (xapi.md §2.5): live VDI, user/system type, an SR with CBT. */
function assertCbtToggle(ctx: CallContext, vdi: string): void {
  const record = ctx.db.get('VDI', vdi)
  if (record.is_a_snapshot === true)
    throw new XapiFault('OPERATION_NOT_ALLOWED', [`VDI is a snapshot: ${vdi}`])
  if (record.type !== 'user' && record.type !== 'system')
    throw new XapiFault('VDI_INCOMPATIBLE_TYPE', [vdi, record.type as string])
  const sr = record.SR as string
  const smConfig = ctx.db.get('SR', sr).sm_config as Readonly<Record<string, string>>
  if (smConfig.supports_cbt !== 'true') throw new XapiFault('SR_OPERATION_NOT_SUPPORTED', [sr])
}

function dataDestroy(ctx: CallContext, vdi: string): void {
  const record = ctx.db.get('VDI', vdi)
  if (record.is_a_snapshot !== true)
    throw new XapiFault('OPERATION_NOT_ALLOWED', [`VDI is not a snapshot: ${vdi}`])
  if (record.type === 'cbt_metadata') return // idempotent (xapi.md §2.5)
  if (record.cbt_enabled !== true) throw new XapiFault('VDI_NO_CBT_METADATA', [vdi])
  // XAPI waits about 4 s for the VBDs to go; the simulator answers at once.
  if (isVdiAttached(ctx.db, vdi)) throw new XapiFault('VDI_IN_USE', [vdi, 'data_destroy'])
  ctx.storage.dropData(vdi)
  ctx.db.update('VDI', vdi, { type: 'cbt_metadata' })
}

/** CBT methods (xapi.md §2.5, §6.1) and `VDI.get_nbd_info`, which is `[]` until NBD is simulated. */
export function vdiCbtMethods(): MethodDef[] {
  return [
    method('VDI.enable_cbt', [p('self', vdiRef)], t.void, (ctx, [vdi]) => {
      assertCbtToggle(ctx, vdi as string)
      ctx.storage.cbt.enable(vdi as string)
      ctx.db.update('VDI', vdi as string, { cbt_enabled: true })
      return ''
    }, { async: true }), // prettier-ignore
    method('VDI.disable_cbt', [p('self', vdiRef)], t.void, (ctx, [vdi]) => {
      assertCbtToggle(ctx, vdi as string)
      ctx.storage.cbt.forget(vdi as string)
      ctx.db.update('VDI', vdi as string, { cbt_enabled: false })
      return ''
    }, { async: true }), // prettier-ignore
    method('VDI.list_changed_blocks', [p('vdi_from', vdiRef), p('vdi_to', vdiRef)], t.string, (ctx, [from, to]) => {
      ctx.db.get('VDI', from as string)
      const target = ctx.db.get('VDI', to as string)
      if (target.is_a_snapshot !== true && isVdiAttached(ctx.db, to as string))
        throw new XapiFault('VDI_IN_USE', [to as string, 'list_changed_blocks'])
      return ctx.storage.cbt.listChanged(from as string, to as string, target.virtual_size as number)
    }, { async: true }), // prettier-ignore
    method('VDI.data_destroy', [p('self', vdiRef)], t.void, (ctx, [vdi]) => {
      dataDestroy(ctx, vdi as string)
      return ''
    }, { async: true }), // prettier-ignore
    method('VDI.get_nbd_info', [p('self', vdiRef)], t.set(NBD_INFO), (ctx, [vdi]) => {
      assertNotCbtMetadata(ctx.db, vdi as string)
      return []
    }),
  ]
}
