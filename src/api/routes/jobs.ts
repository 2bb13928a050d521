// /api/jobs and /api/schedules: the seed's job objects, checked as `xapi-backup run` checks a run
// description's job (same one-line reasons, same field paths), and their cron schedules.
import type { JobRecord, ScheduleRecord } from '../../daemon/model.ts'
import { checkStoredJob, normalizeJobObject } from '../../daemon/job-description.ts'
import { isUuid, newUuid } from '../../shared/ids.ts'
import type { JsonObject } from '../../shared/json.ts'
import { RunDescriptionError } from '../../engine/run-description-error.ts'
import type { ApiDeps } from '../api-context.ts'
import { ApiError, notFound } from '../api-error.ts'
import { jobInput, runInput, scheduleInput } from '../schemas.ts'
import { checkInput, readBody } from '../validate.ts'
import type { DefineRoute } from './router.ts'
import { param } from './router.ts'

/** The job `id` or a 404. */
export function getJobOr404(deps: ApiDeps, id: string): JobRecord {
  const job = isUuid(id) ? deps.store.getJob(id) : undefined
  if (job === undefined) throw notFound('job', id)
  return job
}

function getScheduleOr404(deps: ApiDeps, id: string): ScheduleRecord {
  const schedule = isUuid(id) ? deps.store.getSchedule(id) : undefined
  if (schedule === undefined) throw notFound('schedule', id)
  return schedule
}

/** The job object as stored: the given fields, `type: 'backup'` by default, id and name set. */
function jobObject(input: JsonObject, id: string): JsonObject {
  return normalizeJobObject({ type: 'backup', ...input, id })
}

function withNextRun(deps: ApiDeps, schedule: ScheduleRecord): ScheduleRecord & { nextRun: number | null } {
  const checked = deps.checkCron(schedule.cron, schedule.timezone)
  return { ...schedule, nextRun: schedule.enabled && checked.ok ? checked.next : null }
}

/** Registers the job routes, run-now included. */
export function registerJobRoutes(route: DefineRoute, deps: ApiDeps): void {
  const { store, clock } = deps
  const TAG = 'jobs'
  route(
    {
      method: 'get',
      path: '/api/jobs',
      tag: TAG,
      summary: 'List jobs',
      responses: { 200: '{items: Job[]}' },
    },
    (c) => c.json({ items: store.listJobs() }),
  )
  route(
    {
      method: 'post',
      path: '/api/jobs',
      tag: TAG,
      summary: 'Create a job (the seed job object)',
      body: jobInput,
      responses: { 201: 'Job, with warnings' },
    },
    async (c) => {
      const input = (await readBody(c, jobInput)) as JsonObject & { id?: string; name: string }
      const id = input.id ?? newUuid()
      if (store.getJob(id) !== undefined)
        throw new ApiError(409, 'CONFLICT', `job ${id} exists: PUT /api/jobs/${id} to change it`)
      const job = jobObject(input, id)
      const warnings = checkStoredJob(store, job)
      const now = clock.now()
      const record: JobRecord = { id, name: input.name, job, createdAt: now, updatedAt: now }
      store.putJob(record)
      return c.json({ ...record, warnings: warnings.map((w) => w.message) }, 201)
    },
  )
  route(
    { method: 'get', path: '/api/jobs/:id', tag: TAG, summary: 'Get a job', responses: { 200: 'Job' } },
    (c) => c.json(getJobOr404(deps, param(c, 'id'))),
  )
  route(
    {
      method: 'put',
      path: '/api/jobs/:id',
      tag: TAG,
      summary: 'Replace a job',
      body: jobInput,
      responses: { 200: 'Job, with warnings' },
    },
    async (c) => {
      const current = getJobOr404(deps, param(c, 'id'))
      const input = (await readBody(c, jobInput)) as JsonObject & { name: string }
      if (input['id'] !== undefined && input['id'] !== current.id)
        throw new ApiError(400, 'INVALID_INPUT', `id: expected ${current.id} (the job's id) or nothing`, 'id')
      const job = jobObject(input, current.id)
      const warnings = checkStoredJob(store, job, store.listSchedules(current.id))
      const record: JobRecord = { ...current, name: input.name, job, updatedAt: clock.now() }
      store.putJob(record)
      return c.json({ ...record, warnings: warnings.map((w) => w.message) })
    },
  )
  route(
    {
      method: 'delete',
      path: '/api/jobs/:id',
      tag: TAG,
      summary: 'Delete a job and its schedules (its runs stay)',
      responses: { 204: 'deleted', 409: 'running' },
    },
    (c) => {
      const job = getJobOr404(deps, param(c, 'id'))
      const running = deps.runs.runningRunOf(job.id)
      if (running !== undefined)
        throw new ApiError(409, 'JOB_RUNNING', `job ${job.name} is running (run ${running}): cancel it first`)
      store.deleteJob(job.id)
      deps.reloadSchedules()
      return c.body(null, 204)
    },
  )
  route(
    {
      method: 'post',
      path: '/api/jobs/:id/run',
      tag: TAG,
      summary: 'Run a job now (all its VMs or some, settings for this run)',
      body: runInput,
      responses: {
        202: '{run}',
        409: 'already running: {error, run} (recorded as skipped)',
        503: 'the server is stopping',
      },
    },
    async (c) => {
      const job = getJobOr404(deps, param(c, 'id'))
      const text = await c.req.text()
      const input = checkInput(runInput, text.trim() === '' ? {} : parseJson(text))
      const outcome = deps.startJobRun(job.id, {
        trigger: 'manual',
        ...(input.scheduleId === undefined ? {} : { scheduleId: input.scheduleId }),
        ...(input.vms === undefined ? {} : { vms: input.vms }),
        ...(input.settings === undefined ? {} : { settings: input.settings }),
      })
      if (!outcome.started)
        return c.json(
          {
            error: { code: 'JOB_RUNNING', message: outcome.run.reason ?? 'already running' },
            run: outcome.run,
            runningRunId: outcome.runningRunId,
          },
          409,
        )
      return c.json({ run: outcome.run }, 202)
    },
  )
  registerScheduleRoutes(route, deps)
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    throw new ApiError(400, 'INVALID_JSON', 'body: not valid JSON')
  }
}

function registerScheduleRoutes(route: DefineRoute, deps: ApiDeps): void {
  const { store, clock } = deps
  const TAG = 'schedules'
  const check = (jobId: string, schedule: ScheduleRecord, others: readonly ScheduleRecord[]): void => {
    const cron = deps.checkCron(schedule.cron, schedule.timezone)
    if (!cron.ok) throw new ApiError(400, 'INVALID_INPUT', cron.message, cron.path)
    const job = getJobOr404(deps, jobId)
    // The schedule's settings are checked where the engine will read them (the job's
    // settings[<schedule id>]); a problem there is named as the client wrote it: `settings.x`.
    try {
      checkStoredJob(store, job.job, [schedule, ...others.filter((s) => s.id !== schedule.id)])
    } catch (error) {
      const at = `job.settings['${schedule.id}']`
      if (!(error instanceof RunDescriptionError)) throw error
      const path = error.details?.['path']
      if (typeof path !== 'string' || !path.startsWith(at)) throw error
      const own = `settings${path.slice(at.length)}`
      throw new ApiError(400, 'INVALID_INPUT', error.message.replace(at, 'settings'), own)
    }
  }
  route(
    {
      method: 'get',
      path: '/api/schedules',
      tag: TAG,
      summary: 'List schedules (of a job)',
      query: scheduleInput.pick({ jobId: true }).partial(),
      responses: { 200: '{items: Schedule[]}' },
    },
    (c) => {
      const jobId = c.req.query('jobId')
      if (jobId !== undefined && !isUuid(jobId))
        throw new ApiError(400, 'INVALID_INPUT', 'jobId: expected a uuid', 'jobId')
      return c.json({ items: store.listSchedules(jobId).map((s) => withNextRun(deps, s)) })
    },
  )
  route(
    {
      method: 'post',
      path: '/api/schedules',
      tag: TAG,
      summary: 'Add a schedule to a job',
      body: scheduleInput,
      responses: { 201: 'Schedule with nextRun' },
    },
    async (c) => {
      const input = await readBody(c, scheduleInput)
      const now = clock.now()
      const schedule: ScheduleRecord = {
        id: newUuid(),
        jobId: input.jobId,
        name: input.name ?? '',
        cron: input.cron,
        timezone: input.timezone ?? 'UTC',
        enabled: input.enabled ?? true,
        settings: input.settings ?? {},
        createdAt: now,
        updatedAt: now,
      }
      check(input.jobId, schedule, store.listSchedules(input.jobId))
      store.putSchedule(schedule)
      deps.reloadSchedules()
      return c.json(withNextRun(deps, schedule), 201)
    },
  )
  route(
    {
      method: 'get',
      path: '/api/schedules/:id',
      tag: TAG,
      summary: 'Get a schedule',
      responses: { 200: 'Schedule' },
    },
    (c) => c.json(withNextRun(deps, getScheduleOr404(deps, param(c, 'id')))),
  )
  route(
    {
      method: 'put',
      path: '/api/schedules/:id',
      tag: TAG,
      summary: 'Replace a schedule',
      body: scheduleInput,
      responses: { 200: 'Schedule' },
    },
    async (c) => {
      const current = getScheduleOr404(deps, param(c, 'id'))
      const input = await readBody(c, scheduleInput)
      if (input.jobId !== current.jobId)
        throw new ApiError(400, 'INVALID_INPUT', `jobId: a schedule stays with job ${current.jobId}`, 'jobId')
      const schedule: ScheduleRecord = {
        ...current,
        name: input.name ?? current.name,
        cron: input.cron,
        timezone: input.timezone ?? current.timezone,
        enabled: input.enabled ?? current.enabled,
        settings: input.settings ?? current.settings,
        updatedAt: clock.now(),
      }
      check(current.jobId, schedule, store.listSchedules(current.jobId))
      store.putSchedule(schedule)
      deps.reloadSchedules()
      return c.json(withNextRun(deps, schedule))
    },
  )
  route(
    {
      method: 'delete',
      path: '/api/schedules/:id',
      tag: TAG,
      summary: 'Delete a schedule',
      responses: { 204: 'deleted' },
    },
    (c) => {
      store.deleteSchedule(getScheduleOr404(deps, param(c, 'id')).id)
      deps.reloadSchedules()
      return c.body(null, 204)
    },
  )
}
