import type { MethodDef } from '../context.ts'
import { method, p } from '../context.ts'
import { t } from '../types.ts'
import { formatXapiDateTime } from '../types.ts'
import { XapiFault } from '../xapi-fault.ts'

/** `session.login_with_password`, `session.logout` and `system.listMethods` (xapi.md §1.4–1.5). */
export function sessionMethods(): MethodDef[] {
  return [
    method(
      'session.login_with_password',
      [
        p('uname', t.string),
        p('pwd', t.string),
        p('version', t.string, '1.1'),
        p('originator', t.string, ''),
      ],
      t.ref('session'),
      (ctx, [uname, pwd, , originator]) => {
        if (ctx.hostAddress !== ctx.masterAddress) throw new XapiFault('HOST_IS_SLAVE', [ctx.masterAddress])
        if (uname !== ctx.username || pwd !== ctx.password) {
          throw new XapiFault('SESSION_AUTHENTICATION_FAILED', [uname as string, 'Authentication failure'])
        }
        const master = ctx.db.all('pool')[0]?.[1].master
        return ctx.db.create('session', {
          this_host: master ?? '',
          last_active: formatXapiDateTime(ctx.clock.now()),
          auth_user_name: uname,
          originator: originator as string,
          is_local_superuser: true,
        })
      },
      { session: false },
    ),
    method('session.logout', [], t.void, (ctx) => {
      ctx.db.destroy('session', ctx.session)
      return ''
    }),
    method('system.listMethods', [], t.set(t.string), (ctx) => ctx.methodNames(), { session: false }),
  ]
}
