// /api/runs: the run history, a run with its task tree, its live events (Server-Sent Events), and
// cancellation. The event stream sends the stored events first and then the live ones, by
// sequence number, so a client that reconnects with Last-Event-ID misses nothing and sees nothing twice.
import type { Context } from 'hono'
import { streamSSE } from 'hono/streaming'
import type { RunRecord } from '../../daemon/model.ts'
import type { RunUpdate } from '../../daemon/run-service.ts'
import { isUuid } from '../../shared/ids.ts'
import { buildTaskTrees } from '../../tasks/tree.ts'
import type { ApiDeps } from '../api-context.ts'
import { ApiError, notFound } from '../api-error.ts'
import { runsQuery } from '../schemas.ts'
import { checkInput } from '../validate.ts'
import type { DefineRoute } from './router.ts'
import { param } from './router.ts'

const TAG = 'runs'
const KEEPALIVE_MS = 15_000
const FINISHED = new Set(['success', 'failure', 'interrupted', 'skipped', 'missed'])

function getRunOr404(deps: ApiDeps, id: string): RunRecord {
  const run = isUuid(id) ? deps.store.getRun(id) : undefined
  if (run === undefined) throw notFound('run', id)
  return run
}

/** Registers the run routes. */
export function registerRunRoutes(route: DefineRoute, deps: ApiDeps): void {
  const { store } = deps
  route(
    {
      method: 'get',
      path: '/api/runs',
      tag: TAG,
      summary: 'Run history, newest first',
      query: runsQuery,
      responses: { 200: '{items: Run[], total}' },
    },
    (c) => {
      const query = checkInput(runsQuery, c.req.query(), 'query')
      const page = store.listRuns({
        limit: query.limit ?? 100,
        ...(query.offset === undefined ? {} : { offset: query.offset }),
        ...(query.jobId === undefined ? {} : { jobId: query.jobId }),
        ...(query.status === undefined ? {} : { status: query.status }),
      })
      return c.json(page)
    },
  )
  route(
    {
      method: 'get',
      path: '/api/runs/:id',
      tag: TAG,
      summary: 'A run and its task tree',
      responses: { 200: '{run, tree}' },
    },
    (c) => {
      const run = getRunOr404(deps, param(c, 'id'))
      const events = store.listRunEvents(run.id).map((e) => e.event)
      const { roots } = buildTaskTrees(events, { final: FINISHED.has(run.status) })
      return c.json({ run, tree: roots[0] ?? null })
    },
  )
  route(
    {
      method: 'get',
      path: '/api/runs/:id/events',
      tag: TAG,
      summary: 'Live task events (SSE): `task` events then `end`',
      produces: 'text/event-stream',
      responses: { 200: 'text/event-stream' },
    },
    (c) => streamRunEvents(c, deps, getRunOr404(deps, param(c, 'id'))),
  )
  route(
    {
      method: 'post',
      path: '/api/runs/:id/cancel',
      tag: TAG,
      summary: 'Cancel a running run',
      responses: { 202: '{run}', 409: 'not running' },
    },
    (c) => {
      const run = getRunOr404(deps, param(c, 'id'))
      if (!deps.runs.cancel(run.id))
        throw new ApiError(409, 'NOT_RUNNING', `run ${run.id} is ${run.status}, not running`)
      return c.json({ run: store.getRun(run.id) ?? run }, 202)
    },
  )
}

function streamRunEvents(c: Context, deps: ApiDeps, run: RunRecord): Response {
  const header = c.req.header('last-event-id')
  const lastSeq = header !== undefined && /^\d{1,12}$/.test(header) ? Number(header) : -1
  // Proxies must neither cache nor buffer the stream.
  c.header('cache-control', 'no-store')
  c.header('x-accel-buffering', 'no')
  return streamSSE(c, async (stream) => {
    const queue: RunUpdate[] = []
    let wake: (() => void) | undefined
    const unsubscribe = deps.runs.subscribe(run.id, (update) => {
      queue.push(update)
      wake?.()
    })
    let sent = lastSeq
    const send = async (seq: number, event: unknown): Promise<void> => {
      if (seq <= sent) return
      sent = seq
      await stream.writeSSE({ event: 'task', id: String(seq), data: JSON.stringify(event) })
    }
    // Synchronous with the subscription above: no event can be stored in between.
    const stored = deps.store.listRunEvents(run.id, lastSeq + 1)
    stream.onAbort(() => {
      unsubscribe?.()
      wake?.()
    })
    try {
      for (const e of stored) await send(e.seq, e.event)
      if (unsubscribe === undefined) {
        await stream.writeSSE({ event: 'end', data: JSON.stringify(deps.store.getRun(run.id) ?? run) })
        return
      }
      for (;;) {
        const update = queue.shift()
        if (update === undefined) {
          if (stream.aborted || stream.closed) return
          let timer: NodeJS.Timeout | undefined
          await new Promise<void>((resolve) => {
            wake = resolve
            timer = setTimeout(resolve, KEEPALIVE_MS)
          })
          clearTimeout(timer)
          wake = undefined
          if (queue.length === 0) await stream.write(': keepalive\n\n')
          continue
        }
        if (update.kind === 'event') await send(update.seq, update.event)
        else {
          await stream.writeSSE({ event: 'end', data: JSON.stringify(update.run) })
          return
        }
      }
    } finally {
      unsubscribe?.()
    }
  })
}
