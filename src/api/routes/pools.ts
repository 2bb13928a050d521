// /api/pools: XAPI connections. The password is written to the secrets file and never answered.
import { isUuid, newUuid } from '../../shared/ids.ts'
import type { PoolRecord } from '../../daemon/model.ts'
import type { ApiDeps } from '../api-context.ts'
import { poolLogin } from '../api-context.ts'
import { ApiError, notFound } from '../api-error.ts'
import { poolInput } from '../schemas.ts'
import { readBody } from '../validate.ts'
import type { DefineRoute } from './router.ts'
import { param } from './router.ts'

const TAG = 'pools'

/** The pool `id` or a 404. */
export function getPoolOr404(deps: ApiDeps, id: string): PoolRecord {
  const pool = isUuid(id) ? deps.store.getPool(id) : undefined
  if (pool === undefined) throw notFound('pool', id)
  return pool
}

/** Registers the pool routes. */
export function registerPoolRoutes(route: DefineRoute, deps: ApiDeps): void {
  const { store, clock } = deps
  route(
    {
      method: 'get',
      path: '/api/pools',
      tag: TAG,
      summary: 'List pools',
      responses: { 200: '{items: Pool[]}' },
    },
    (c) => c.json({ items: store.listPools() }),
  )
  route(
    {
      method: 'post',
      path: '/api/pools',
      tag: TAG,
      summary: 'Add a pool',
      body: poolInput,
      responses: { 201: 'Pool' },
    },
    async (c) => {
      const input = await readBody(c, poolInput)
      if (input.password === undefined)
        throw new ApiError(400, 'INVALID_INPUT', 'password: required for a new pool', 'password')
      const now = clock.now()
      const pool: PoolRecord = {
        id: newUuid(),
        name: input.name,
        url: input.url,
        username: input.username,
        allowUnauthorized: input.allowUnauthorized === true,
        createdAt: now,
        updatedAt: now,
      }
      store.putPool(pool, input.password)
      return c.json(pool, 201)
    },
  )
  route(
    { method: 'get', path: '/api/pools/:id', tag: TAG, summary: 'Get a pool', responses: { 200: 'Pool' } },
    (c) => c.json(getPoolOr404(deps, param(c, 'id'))),
  )
  route(
    {
      method: 'put',
      path: '/api/pools/:id',
      tag: TAG,
      summary: 'Replace a pool (password kept when absent)',
      body: poolInput,
      responses: { 200: 'Pool' },
    },
    async (c) => {
      const current = getPoolOr404(deps, param(c, 'id'))
      const input = await readBody(c, poolInput)
      const pool: PoolRecord = {
        ...current,
        name: input.name,
        url: input.url,
        username: input.username,
        allowUnauthorized: input.allowUnauthorized === true,
        updatedAt: clock.now(),
      }
      store.putPool(pool, input.password)
      return c.json(pool)
    },
  )
  route(
    {
      method: 'delete',
      path: '/api/pools/:id',
      tag: TAG,
      summary: 'Delete a pool',
      responses: { 204: 'deleted' },
    },
    (c) => {
      store.deletePool(getPoolOr404(deps, param(c, 'id')).id)
      return c.body(null, 204)
    },
  )
  route(
    {
      method: 'post',
      path: '/api/pools/:id/test',
      tag: TAG,
      summary: 'Log in to a pool',
      responses: { 200: '{ok, poolName, hosts} or {ok: false, error}' },
    },
    async (c) => c.json(await deps.operations.testPool(poolLogin(store, getPoolOr404(deps, param(c, 'id'))))),
  )
  route(
    {
      method: 'get',
      path: '/api/pools/:id/vms',
      tag: TAG,
      summary: "A pool's VMs",
      responses: { 200: '{items: [{uuid, name, powerState, tags}]}', 502: 'the pool cannot be reached' },
    },
    async (c) =>
      c.json({
        items: await upstream(() =>
          deps.operations.listPoolVms(poolLogin(store, getPoolOr404(deps, param(c, 'id')))),
        ),
      }),
  )
  route(
    {
      method: 'get',
      path: '/api/pools/:id/srs',
      tag: TAG,
      summary: "A pool's SRs",
      responses: {
        200: '{items: [{uuid, name, type, sizeBytes, usedBytes}]}',
        502: 'the pool cannot be reached',
      },
    },
    async (c) =>
      c.json({
        items: await upstream(() =>
          deps.operations.listPoolSrs(poolLogin(store, getPoolOr404(deps, param(c, 'id')))),
        ),
      }),
  )
}

/** A pool or remote that fails answers 502 with its (redacted) reason, not 500. */
export async function upstream<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (error) {
    if (error instanceof ApiError) throw error
    throw new ApiError(502, 'UPSTREAM_FAILED', error instanceof Error ? error.message : String(error))
  }
}
