// GET /api/dashboard and GET /metrics: what a person looks at each morning, and the same figures
// for Prometheus, both computed from the run history in the store.
import type { RunRecord } from '../../daemon/model.ts'
import type { JobMetrics, VmMetrics } from '../../daemon/metrics.ts'
import { METRICS_CONTENT_TYPE, renderMetrics } from '../../daemon/metrics.ts'
import type { Store } from '../../daemon/store-port.ts'
import type { ApiDeps } from '../api-context.ts'
import type { BackupListings } from '../backup-listings.ts'
import type { RemoteRecord } from '../../daemon/model.ts'
import type { DefineRoute } from './router.ts'

/** A VM is stale when its last successful backup is older than this (or never happened). */
export const STALE_AFTER_MS = 48 * 3600_000
const PAGE = 500

function* allRuns(store: Store): Generator<RunRecord> {
  for (let offset = 0; ; offset += PAGE) {
    const { items } = store.listRuns({ limit: PAGE, offset })
    yield* items
    if (items.length < PAGE) return
  }
}

const FAILED = new Set(['failure', 'interrupted', 'missed'])

/** Per VM: last success (ms) or null, with its name, from backup runs. */
function vmLastSuccess(runs: Iterable<RunRecord>): Map<string, { name: string; lastSuccess: number | null }> {
  const out = new Map<string, { name: string; lastSuccess: number | null }>()
  for (const run of runs) {
    if (run.kind !== 'backup') continue
    for (const vm of run.vms) {
      const seen = out.get(vm.uuid) ?? { name: vm.name ?? '', lastSuccess: null }
      if (vm.status === 'success' && (seen.lastSuccess ?? 0) < (run.end ?? run.start))
        seen.lastSuccess = run.end ?? run.start
      if (seen.name === '' && vm.name !== undefined) seen.name = vm.name
      out.set(vm.uuid, seen)
    }
  }
  return out
}

function metricsInput(
  store: Store,
  running: number,
): { jobs: JobMetrics[]; vms: VmMetrics[]; runningRuns: number } {
  const names = new Map(store.listJobs().map((j) => [j.id, j.name]))
  const jobs = new Map<string, { -readonly [K in keyof JobMetrics]: JobMetrics[K] }>()
  // Read the history once: the per-job and the per-VM figures both walk it.
  const runs = [...allRuns(store)]
  for (const run of runs) {
    if (run.kind !== 'backup' || run.jobId === null) continue
    const label = names.get(run.jobId) ?? run.jobId
    const job = jobs.get(label) ?? {
      job: label,
      runs: {},
      transferredBytes: 0,
      durationSecondsSum: 0,
      durationCount: 0,
      lastSuccessMs: null,
    }
    job.runs = { ...job.runs, [run.status]: (job.runs[run.status] ?? 0) + 1 }
    job.transferredBytes += run.sizeBytes
    if (run.end !== null && run.status !== 'skipped' && run.status !== 'missed') {
      job.durationSecondsSum += (run.end - run.start) / 1000
      job.durationCount++
    }
    if (run.status === 'success' && (job.lastSuccessMs ?? 0) < (run.end ?? run.start))
      job.lastSuccessMs = run.end ?? run.start
    jobs.set(label, job)
  }
  const vms: VmMetrics[] = []
  for (const [uuid, vm] of vmLastSuccess(runs))
    if (vm.lastSuccess !== null) vms.push({ uuid, name: vm.name, lastSuccessMs: vm.lastSuccess })
  return { jobs: [...jobs.values()], vms, runningRuns: running }
}

/** Registers the dashboard and the metrics. */
export function registerDashboardRoutes(route: DefineRoute, deps: ApiDeps, listings: BackupListings): void {
  const { store, clock } = deps
  const remoteSize = (remote: RemoteRecord) =>
    listings.list(remote).then(
      (items) => ({ backups: items.length, sizeBytes: items.reduce((sum, b) => sum + b.sizeBytes, 0) }),
      (error: unknown) => ({ error: error instanceof Error ? error.message : String(error) }),
    )
  route(
    {
      method: 'get',
      path: '/api/dashboard',
      tag: 'dashboard',
      summary: 'Last run per job (failures first), stale VMs, repository sizes',
      responses: { 200: 'dashboard' },
    },
    async (c) => {
      const lastRuns = [...store.lastRunPerJob()].sort(
        (a, b) => Number(FAILED.has(b.status)) - Number(FAILED.has(a.status)) || b.start - a.start,
      )
      const now = clock.now()
      const staleVms = [...vmLastSuccess(allRuns(store))]
        .filter(([, vm]) => vm.lastSuccess === null || now - vm.lastSuccess > STALE_AFTER_MS)
        .map(([uuid, vm]) => ({ uuid, name: vm.name, lastSuccess: vm.lastSuccess }))
      const remotes = await Promise.all(
        store.listRemotes().map(async (r) => ({ id: r.id, name: r.name, ...(await remoteSize(r)) })),
      )
      return c.json({
        lastRuns,
        staleVms,
        remotes,
        running: deps.runs.activeCount,
        staleAfterMs: STALE_AFTER_MS,
      })
    },
  )
  route(
    {
      method: 'get',
      path: '/metrics',
      tag: 'metrics',
      summary: 'Prometheus metrics (text format 0.0.4)',
      produces: METRICS_CONTENT_TYPE,
      responses: { 200: 'text/plain' },
    },
    (c) =>
      c.body(renderMetrics(metricsInput(store, deps.runs.activeCount)), 200, {
        'content-type': METRICS_CONTENT_TYPE,
      }),
  )
}
