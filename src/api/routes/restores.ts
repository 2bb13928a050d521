// POST /api/restore and /api/health-check: a backup of a stored remote onto an SR of a stored pool,
// run as a run of its own (kind `restore` / `healthCheck`) with its task tree and live events.
import type { JsonObject } from '../../shared/json.ts'
import type { ApiDeps, RestoreRequest } from '../api-context.ts'
import { poolLogin, remoteUrl } from '../api-context.ts'
import { ApiError } from '../api-error.ts'
import { healthCheckInput, restoreInput } from '../schemas.ts'
import { readBody } from '../validate.ts'
import { getPoolOr404 } from './pools.ts'
import { getRemoteOr404 } from './remotes.ts'
import type { DefineRoute } from './router.ts'

/** The VM uuid of a checked backup id (`xo-vm-backups/<vm>/<ts>.json`). */
const vmOf = (backupId: string): string => backupId.replace(/^\//, '').split('/')[1] ?? ''

const BACKUP_ID = /^\/?xo-vm-backups\/[0-9a-f-]{36}\/[^/]+\.json$/i

/** Registers the restore and health-check routes. */
export function registerRestoreRoutes(route: DefineRoute, deps: ApiDeps): void {
  const { store } = deps
  type Target = { remoteId: string; backupId: string; poolId: string; srId: string }
  /** Checks the target, then starts a run of `kind` whose work gets the resolved remote URL and login. */
  const startRun = (
    kind: 'restore' | 'healthCheck',
    input: Target & Readonly<Record<string, unknown>>,
    work: (target: RestoreRequest) => Promise<unknown>,
  ) => {
    const remote = getRemoteOr404(deps, input.remoteId)
    const pool = getPoolOr404(deps, input.poolId)
    if (!BACKUP_ID.test(input.backupId) || input.backupId.includes('..'))
      throw new ApiError(
        400,
        'INVALID_INPUT',
        'backupId: expected xo-vm-backups/<vm uuid>/<timestamp>.json',
        'backupId',
      )
    const url = remoteUrl(store, remote.id, remote.name)
    const xapi = poolLogin(store, pool)
    const params = { ...(JSON.parse(JSON.stringify(input)) as JsonObject), vmUuid: vmOf(input.backupId) }
    return deps.runs.start(
      { kind, jobId: null, scheduleId: null, trigger: 'manual', params },
      (sink, signal) =>
        work({ remoteUrl: url, backupId: input.backupId, xapi, srUuid: input.srId, sink, signal }),
    ).run
  }
  route(
    {
      method: 'post',
      path: '/api/restore',
      tag: 'backups',
      summary: 'Restore a backup onto an SR',
      body: restoreInput,
      responses: { 202: '{run}', 503: 'the server is stopping' },
    },
    async (c) => {
      const input = await readBody(c, restoreInput)
      const run = startRun('restore', input, (target) =>
        deps.operations.restore({
          ...target,
          ...(input.newMacAddresses === undefined ? {} : { newMacAddresses: input.newMacAddresses }),
        }),
      )
      return c.json({ run }, 202)
    },
  )
  route(
    {
      method: 'post',
      path: '/api/health-check',
      tag: 'backups',
      summary: 'Restore a backup, boot it until its tools answer, destroy it',
      body: healthCheckInput,
      responses: { 202: '{run}', 503: 'the server is stopping' },
    },
    async (c) => {
      const input = await readBody(c, healthCheckInput)
      const run = startRun('healthCheck', input, (target) =>
        deps.operations.healthCheck({
          ...target,
          ...(input.timeoutMs === undefined ? {} : { timeoutMs: input.timeoutMs }),
        }),
      )
      return c.json({ run }, 202)
    },
  )
}
