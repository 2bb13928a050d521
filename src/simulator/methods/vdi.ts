import type { MethodDef } from '../context.ts'
import { method, p } from '../context.ts'
import { createVdi } from '../objects.ts'
import { vdiSchema } from '../schema/storage.ts'
import type { XapiRecord } from '../types.ts'
import { NULL_REF, t } from '../types.ts'
import { XapiFault } from '../xapi-fault.ts'
import { constructorFields } from './accessors.ts'
import { assertNotCbtMetadata, destroyVdi, duplicateVdi, isVdiAttached } from './vdi-ops.ts'

const vdiRef = t.ref('VDI')
const driverParams = p('driver_params', t.stringMap, {})

/** VDI methods (xapi.md §2.5): create, destroy, snapshot, clone, copy, resize. */
export function vdiMethods(): MethodDef[] {
  return [
    method('VDI.create', [p('args', t.record('VDI'))], vdiRef, (ctx, [args]) => {
      const fields = constructorFields(vdiSchema, args as XapiRecord)
      if (fields.type === 'cbt_metadata') throw new XapiFault('VDI_INCOMPATIBLE_TYPE', ['', 'cbt_metadata'])
      const sr = fields.SR as string
      ctx.db.get('SR', sr)
      const pbds = ctx.db.get('SR', sr).PBDs as string[]
      if (!pbds.some((pbd) => ctx.db.find('PBD', pbd)?.currently_attached === true)) {
        throw new XapiFault('SR_NO_PBDS', [sr])
      }
      ctx.storage.assertRoomForNewVdis(sr, [fields.virtual_size as number])
      return createVdi(ctx.db, fields)
    }, { async: true }), // prettier-ignore
    method('VDI.destroy', [p('self', vdiRef)], t.void, (ctx, [vdi]) => {
      destroyVdi(ctx.db, vdi as string)
      return ''
    }, { async: true }), // prettier-ignore
    method('VDI.snapshot', [p('vdi', vdiRef), driverParams], vdiRef, (ctx, [vdi]) =>
      duplicateVdi(ctx.db, vdi as string, 'snapshot', ctx.clock.now()),
    { async: true }), // prettier-ignore
    method('VDI.clone', [p('vdi', vdiRef), driverParams], vdiRef, (ctx, [vdi]) =>
      duplicateVdi(ctx.db, vdi as string, 'clone', ctx.clock.now()),
    { async: true }), // prettier-ignore
    method(
      'VDI.copy',
      [
        p('vdi', vdiRef),
        p('sr', t.ref('SR')),
        p('base_vdi', vdiRef, NULL_REF),
        p('into_vdi', vdiRef, NULL_REF),
      ],
      vdiRef,
      (ctx, [vdi, sr, , into]) => {
        if (into !== NULL_REF) {
          // Copying into an existing VDI keeps that VDI and gives it the source's contents.
          ctx.db.get('VDI', into as string)
          ctx.db.setContentHandle(
            into as string,
            ctx.db.contentHandle(into as string) ?? '',
            ctx.db.contentHandle(vdi as string),
          )
          return into as string
        }
        const target = sr === NULL_REF ? undefined : (sr as string)
        if (target !== undefined) ctx.db.get('SR', target)
        assertNotCbtMetadata(ctx.db, vdi as string)
        ctx.storage.assertRoomForCopies([vdi as string], target)
        return duplicateVdi(ctx.db, vdi as string, 'copy', ctx.clock.now(), target)
      },
      { async: true },
    ),
    resize('VDI.resize', false),
    resize('VDI.resize_online', true),
  ]
}

function resize(name: string, online: boolean): MethodDef {
  return method(name, [p('vdi', vdiRef), p('size', t.int)], t.void, (ctx, [vdi, size]) => {
    const record = ctx.db.get('VDI', vdi as string)
    assertNotCbtMetadata(ctx.db, vdi as string)
    if (!online && isVdiAttached(ctx.db, vdi as string)) throw new XapiFault('VDI_IN_USE', [vdi as string, 'resize'])
    if ((size as number) < (record.virtual_size as number)) {
      // Shrinking is refused by the SM backends (VHD cannot shrink).
      throw new XapiFault('SR_BACKEND_FAILURE_79', ['', 'VDI Invalid size [opterr=shrinking not allowed]', ''])
    }
    // A thick SR grows the volume now: the growth must fit.
    ctx.storage.assertRoomForNewVdis(record.SR as string, [(size as number) - (record.virtual_size as number)])
    ctx.db.update('VDI', vdi as string, { virtual_size: size as number })
    ctx.storage.refreshUtilisation(vdi as string)
    return ''
  }, { async: true }) // prettier-ignore
}
