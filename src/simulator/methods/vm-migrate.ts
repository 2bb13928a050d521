import type { MethodDef } from '../context.ts'
import { method, p } from '../context.ts'
import { t } from '../types.ts'
import { XapiFault } from '../xapi-fault.ts'
import { assertVmOperation } from './vm-checks.ts'

const vmRef = t.ref('VM')

/**
 * `VM.pool_migrate` and `VM.migrate_send` (datamodel_vm.ml signatures): XAPI's operation checks
 * first (xapi.md §2.2: `OPERATION_BLOCKED [vm, reason]` when blocked, as XO blocks them during a
 * backup; power state; other operation in progress), and while they run `current_operations`
 * shows `pool_migrate`/`migrate_send`, which a backup refuses (XO `_AbstractXapi`, §3.1). Only a
 * move between hosts of this pool is simulated: the VM's `resident_on` changes, disks stay.
 */
export function vmMigrateMethods(): MethodDef[] {
  return [
    method('VM.pool_migrate', [p('vm', vmRef), p('host', t.ref('host')), p('options', t.stringMap, {})], t.void, (ctx, [vm, host]) => {
      assertVmOperation(ctx.db, vm as string, 'pool_migrate', ctx.operation)
      ctx.db.get('host', host as string)
      ctx.db.update('VM', vm as string, { resident_on: host as string })
      return ''
    }, { async: true, lockVm: 'pool_migrate' }), // prettier-ignore
    method(
      'VM.migrate_send',
      [
        p('vm', vmRef),
        p('dest', t.stringMap),
        p('live', t.bool),
        p('vdi_map', t.map(t.ref('VDI'), t.ref('SR'))),
        p('vif_map', t.map(t.ref('VIF'), t.ref('network'))),
        p('options', t.stringMap),
        p('vgpu_map', t.map(t.ref('VGPU'), t.ref('GPU_group')), {}),
      ],
      vmRef,
      (ctx, [vm, dest]) => {
        assertVmOperation(ctx.db, vm as string, 'migrate_send', ctx.operation)
        // `dest` comes from host.migrate_receive; its `host` key is the receiving host's ref.
        const host = (dest as Readonly<Record<string, string>>).host ?? ''
        if (ctx.db.find('host', host) === undefined) {
          throw new XapiFault('INTERNAL_ERROR', ['migration to another pool is not simulated'])
        }
        if (ctx.db.get('VM', vm as string).power_state === 'Running') {
          ctx.db.update('VM', vm as string, { resident_on: host })
        }
        return vm as string
      },
      { async: true, lockVm: 'migrate_send' },
    ),
  ]
}
