import { newRef } from '../db.ts'
import type { MethodDef } from '../context.ts'
import { method, p } from '../context.ts'
import { TASK_STATUSES } from '../schema/host.ts'
import { t } from '../types.ts'

const self = p('self', t.ref('task'))

/** `task.*` beyond the generated accessors (xapi.md §1.6); all sync, as in XAPI. */
export function taskMethods(): MethodDef[] {
  return [
    method(
      'task.create',
      [p('label', t.string), p('description', t.string)],
      t.ref('task'),
      (ctx, [label, d]) => ctx.tasks.create(label as string, d as string),
    ),
    method('task.destroy', [self], t.void, (ctx, [task]) => {
      const record = ctx.db.get('task', task as string)
      // A pending task is only marked for destruction; completed ones go at once (xapi.md §1.6).
      if (record.status === 'pending' || record.status === 'cancelling') {
        ctx.db.update('task', task as string, { current_operations: { [newRef()]: 'destroy' } })
      } else {
        ctx.db.destroy('task', task as string)
      }
      return ''
    }),
    method('task.cancel', [p('task', t.ref('task'))], t.void, (ctx, [task]) => {
      ctx.tasks.cancel(task as string, newRef())
      return ''
    }),
    setter('status', t.enum(...TASK_STATUSES)),
    setter('progress', t.float),
    setter('result', t.string),
    setter('error_info', t.set(t.string)),
    setter('name_label', t.string),
    setter('name_description', t.string),
  ]
}

function setter(field: string, type: ReturnType<typeof t.set>): MethodDef {
  return method(`task.set_${field}`, [self, p('value', type)], t.void, (ctx, [task, value]) => {
    ctx.db.get('task', task as string)
    ctx.db.update('task', task as string, { [field]: value ?? '' })
    return ''
  })
}
