// Request schemas of the REST API (zod at the boundary, architecture.md §3): each body is checked
// here before any store or engine code sees it; the OpenAPI document is generated from them.
import { z } from 'zod'

const uuid = z.uuid({ error: 'expected a uuid' })
const name = z.string().trim().min(1, { error: 'expected a non-empty name' }).max(200)
const settingsBlock = z.record(z.string(), z.json())

/** POST/PUT /api/pools. */
export const poolInput = z.strictObject({
  name,
  url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL of the pool master' }),
  username: z.string().min(1).max(200),
  password: z.string().min(1).max(1000).optional(),
  allowUnauthorized: z.boolean().optional(),
})

/** POST/PUT /api/remotes: the URL may carry credentials and is kept in the secrets file. */
export const remoteInput = z.strictObject({
  name,
  url: z.string().min(1).max(4096),
})

/** POST/PUT /api/jobs: the seed's job object; its content is checked as a run description's job. */
export const jobInput = z.looseObject({
  id: uuid.optional(),
  name,
})

/** POST/PUT /api/schedules. */
export const scheduleInput = z.strictObject({
  jobId: uuid,
  name: z.string().max(200).optional(),
  cron: z.string().min(1).max(200),
  timezone: z.string().min(1).max(100).optional(),
  enabled: z.boolean().optional(),
  settings: settingsBlock.optional(),
})

/** POST /api/jobs/{id}/run. */
export const runInput = z.strictObject({
  vms: z.array(uuid).min(1).max(1000).optional(),
  settings: settingsBlock.optional(),
  scheduleId: uuid.optional(),
})

/** POST /api/restore. */
export const restoreInput = z.strictObject({
  remoteId: uuid,
  backupId: z.string().min(1).max(500),
  poolId: uuid,
  srId: uuid,
  newMacAddresses: z.boolean().optional(),
})

/** POST /api/health-check. */
export const healthCheckInput = z.strictObject({
  remoteId: uuid,
  backupId: z.string().min(1).max(500),
  poolId: uuid,
  srId: uuid,
  timeoutMs: z.int().min(1000).max(86_400_000).optional(),
})

/** PUT /api/notifications. */
export const notificationInput = z.strictObject({
  webhooks: z
    .array(z.strictObject({ url: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }) }))
    .max(20),
  smtp: z
    .strictObject({
      host: z.string().min(1).max(255),
      port: z.int().min(1).max(65535),
      security: z.enum(['tls', 'starttls', 'none']),
      username: z.string().max(200).optional(),
      from: z.string().min(3).max(320),
      allowUnauthorized: z.boolean().optional(),
    })
    .nullable(),
  smtpPassword: z.string().max(1000).nullable().optional(),
})

/** GET /api/runs query. */
export const runsQuery = z.strictObject({
  jobId: uuid.optional(),
  status: z.enum(['pending', 'running', 'success', 'failure', 'interrupted', 'skipped', 'missed']).optional(),
  limit: z.coerce.number().int().min(1).max(500).optional(),
  offset: z.coerce.number().int().min(0).max(1_000_000_000).optional(),
})
