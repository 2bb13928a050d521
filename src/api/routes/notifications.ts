// GET/PUT /api/notifications: where run reports go (webhooks, SMTP). The SMTP password is written
// to the secrets file and never answered.
import type { NotificationSettings } from '../../daemon/model.ts'
import type { ApiDeps } from '../api-context.ts'
import { notificationInput } from '../schemas.ts'
import { readBody } from '../validate.ts'
import type { DefineRoute } from './router.ts'

/** Registers the notification settings routes. */
export function registerNotificationRoutes(route: DefineRoute, deps: ApiDeps): void {
  const { store } = deps
  const answer = () => ({
    ...store.getNotificationSettings(),
    smtpPasswordSet: store.secrets.get('smtp') !== undefined,
  })
  route(
    {
      method: 'get',
      path: '/api/notifications',
      tag: 'notifications',
      summary: 'Report settings',
      responses: { 200: 'NotificationSettings' },
    },
    (c) => c.json(answer()),
  )
  route(
    {
      method: 'put',
      path: '/api/notifications',
      tag: 'notifications',
      summary: 'Set report settings (smtpPassword: absent keeps, null clears)',
      body: notificationInput,
      responses: { 200: 'NotificationSettings' },
    },
    async (c) => {
      const { smtpPassword, ...settings } = await readBody(c, notificationInput)
      store.putNotificationSettings(settings as NotificationSettings, smtpPassword)
      return c.json(answer())
    },
  )
}
