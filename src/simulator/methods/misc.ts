import type { MethodDef } from '../context.ts'
import { method, p } from '../context.ts'
import { formatXapiDateTime, t } from '../types.ts'
import { XapiFault } from '../xapi-fault.ts'

const vmRef = t.ref('VM')

/** Setters with their own validation and small host calls (xapi.md §2.3, §2.6). */
export function miscMethods(): MethodDef[] {
  return [
    method(
      'VM.set_ha_restart_priority',
      [p('self', vmRef), p('value', t.string)],
      t.void,
      (ctx, [vm, value]) => {
        if (!['', 'restart', 'best-effort'].includes(value as string)) {
          throw new XapiFault('INVALID_VALUE', ['ha_restart_priority', value as string])
        }
        ctx.db.update('VM', vm as string, { ha_restart_priority: value as string })
        return ''
      },
    ),
    method(
      'VM.set_memory_limits',
      [
        p('self', vmRef),
        p('static_min', t.int),
        p('static_max', t.int),
        p('dynamic_min', t.int),
        p('dynamic_max', t.int),
      ],
      t.void,
      (ctx, [vm, staticMin, staticMax, dynamicMin, dynamicMax]) => {
        const [smin, smax, dmin, dmax] = [staticMin, staticMax, dynamicMin, dynamicMax] as number[]
        ctx.db.get('VM', vm as string)
        // XAPI's constraint: static_min ≤ dynamic_min ≤ dynamic_max ≤ static_max.
        if (!((smin ?? 0) <= (dmin ?? 0) && (dmin ?? 0) <= (dmax ?? 0) && (dmax ?? 0) <= (smax ?? 0))) {
          throw new XapiFault('MEMORY_CONSTRAINT_VIOLATION_ORDER', [])
        }
        ctx.db.update('VM', vm as string, {
          memory_static_min: smin ?? 0,
          memory_static_max: smax ?? 0,
          memory_dynamic_min: dmin ?? 0,
          memory_dynamic_max: dmax ?? 0,
        })
        return ''
      },
      { async: true },
    ),
    method('host.get_servertime', [p('host', t.ref('host'))], t.datetime, (ctx, [host]) => {
      ctx.db.get('host', host as string)
      return formatXapiDateTime(ctx.clock.now())
    }),
  ]
}
