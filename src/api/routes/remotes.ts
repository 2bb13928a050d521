// /api/remotes: backup repositories. The full URL goes to the secrets file; answers show it with
// its credentials replaced by `***`.
import type { RemoteRecord } from '../../daemon/model.ts'
import { remoteIdsOf } from '../../daemon/job-description.ts'
import { isUuid, newUuid } from '../../shared/ids.ts'
import { redactText } from '../../shared/redact-text.ts'
import type { ApiDeps } from '../api-context.ts'
import { remoteUrl } from '../api-context.ts'
import { ApiError, notFound } from '../api-error.ts'
import { remoteInput } from '../schemas.ts'
import { readBody } from '../validate.ts'
import { upstream } from './pools.ts'
import type { BackupListings } from '../backup-listings.ts'
import type { DefineRoute } from './router.ts'
import { param } from './router.ts'

const TAG = 'remotes'

/** The remote `id` or a 404. */
export function getRemoteOr404(deps: ApiDeps, id: string): RemoteRecord {
  const remote = isUuid(id) ? deps.store.getRemote(id) : undefined
  if (remote === undefined) throw notFound('remote', id)
  return remote
}

function checkedUrl(deps: ApiDeps, url: string): string {
  const problem = deps.operations.checkRemoteUrl(url)
  if (problem !== undefined) throw new ApiError(400, 'INVALID_INPUT', `url: ${problem}`, 'url')
  return url
}

/** Registers the remote routes (and the listing of a remote's backups). */
export function registerRemoteRoutes(route: DefineRoute, deps: ApiDeps, listings: BackupListings): void {
  const { store, clock } = deps
  route(
    {
      method: 'get',
      path: '/api/remotes',
      tag: TAG,
      summary: 'List remotes',
      responses: { 200: '{items: Remote[]}' },
    },
    (c) => c.json({ items: store.listRemotes() }),
  )
  route(
    {
      method: 'post',
      path: '/api/remotes',
      tag: TAG,
      summary: 'Add a remote',
      body: remoteInput,
      responses: { 201: 'Remote' },
    },
    async (c) => {
      const input = await readBody(c, remoteInput)
      const url = checkedUrl(deps, input.url)
      const now = clock.now()
      const remote: RemoteRecord = {
        id: newUuid(),
        name: input.name,
        url: redactText(url),
        createdAt: now,
        updatedAt: now,
      }
      store.putRemote(remote, url)
      return c.json(remote, 201)
    },
  )
  route(
    {
      method: 'get',
      path: '/api/remotes/:id',
      tag: TAG,
      summary: 'Get a remote',
      responses: { 200: 'Remote' },
    },
    (c) => c.json(getRemoteOr404(deps, param(c, 'id'))),
  )
  route(
    {
      method: 'put',
      path: '/api/remotes/:id',
      tag: TAG,
      summary: 'Replace a remote',
      body: remoteInput,
      responses: { 200: 'Remote' },
    },
    async (c) => {
      const current = getRemoteOr404(deps, param(c, 'id'))
      const input = await readBody(c, remoteInput)
      const url = checkedUrl(deps, input.url)
      const remote: RemoteRecord = {
        ...current,
        name: input.name,
        url: redactText(url),
        updatedAt: clock.now(),
      }
      store.putRemote(remote, url)
      listings.forget(remote.id)
      return c.json(remote)
    },
  )
  route(
    {
      method: 'delete',
      path: '/api/remotes/:id',
      tag: TAG,
      summary: 'Delete a remote (refused while a job uses it)',
      responses: { 204: 'deleted', 409: 'used by a job' },
    },
    (c) => {
      const remote = getRemoteOr404(deps, param(c, 'id'))
      const users = store.listJobs().filter((j) => remoteIdsOf(j.job).includes(remote.id))
      if (users.length > 0)
        throw new ApiError(
          409,
          'IN_USE',
          `remote ${remote.name} is used by job ${users.map((j) => j.name).join(', ')}`,
        )
      store.deleteRemote(remote.id)
      listings.forget(remote.id)
      return c.body(null, 204)
    },
  )
  route(
    {
      method: 'post',
      path: '/api/remotes/:id/test',
      tag: TAG,
      summary: 'Write, read back and delete 1 MiB (remote test)',
      responses: { 200: 'the test result' },
    },
    async (c) => {
      const remote = getRemoteOr404(deps, param(c, 'id'))
      return c.json(
        await upstream(() => deps.operations.testRemote(remoteUrl(store, remote.id, remote.name))),
      )
    },
  )
  route(
    {
      method: 'get',
      path: '/api/remotes/:id/backups',
      tag: TAG,
      summary: "A remote's backups, newest first",
      responses: { 200: '{items: Backup[]}', 502: 'the remote cannot be read' },
    },
    async (c) => {
      const remote = getRemoteOr404(deps, param(c, 'id'))
      const vm = c.req.query('vm')
      if (vm !== undefined && !isUuid(vm))
        throw new ApiError(
          400,
          'INVALID_INPUT',
          `vm: expected a uuid, got ${JSON.stringify(String(vm).slice(0, 60))}`,
          'vm',
        )
      const listed = await upstream(() => listings.list(remote, vm))
      // The metadata names the job by id only (as XO's does): the name comes from the store.
      const names = new Map(store.listJobs().map((j) => [j.id, j.name]))
      const items = listed.map((b) => (b.jobName === '' ? { ...b, jobName: names.get(b.jobId) ?? '' } : b))
      return c.json({ items, total: items.length })
    },
  )
}
