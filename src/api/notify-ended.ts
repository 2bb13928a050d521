// Reports of ended runs (issue 12: reportWhen): the job's reportWhen and reportRecipients decide,
// the stored notification settings say where; a failed notification is logged, never thrown.
import type { RunRecord } from '../daemon/model.ts'
import { notifyRun, shouldReport } from '../daemon/notify/index.ts'
import type { ReportWhen } from '../daemon/notify/index.ts'
import type { Store } from '../daemon/store-port.ts'
import type { JsonObject } from '../shared/json.ts'

const REPORT_WHEN = new Set(['always', 'failure', 'error', 'never'])

/** reportWhen and reportRecipients of a stored job at the run's schedule (schedule block over job block). */
function reportSettings(
  store: Store,
  run: RunRecord,
): { reportWhen: ReportWhen; recipients: string[]; jobName: string } {
  const job = run.jobId === null ? undefined : store.getJob(run.jobId)
  const settings = (job?.job['settings'] as Record<string, JsonObject> | undefined) ?? {}
  const schedule = run.scheduleId === null ? undefined : store.getSchedule(run.scheduleId)
  const merged: JsonObject = {
    ...(settings[''] ?? {}),
    ...(run.scheduleId === null ? {} : (settings[run.scheduleId] ?? {})),
    ...(schedule?.settings ?? {}),
  }
  const when = merged['reportWhen']
  const recipients = Array.isArray(merged['reportRecipients'])
    ? merged['reportRecipients'].filter((r): r is string => typeof r === 'string')
    : []
  return {
    reportWhen: typeof when === 'string' && REPORT_WHEN.has(when) ? (when as ReportWhen) : 'failure',
    recipients,
    jobName: job?.name ?? (run.kind === 'backup' ? (run.jobId ?? '') : run.kind),
  }
}

/** Sends the report of `run` when its job's reportWhen asks for it; failures go to `log`. */
export async function notifyEnded(
  store: Store,
  run: RunRecord,
  log: (message: string) => void,
): Promise<void> {
  if (run.kind !== 'backup') return
  const { reportWhen, recipients, jobName } = reportSettings(store, run)
  if (!shouldReport(reportWhen, run.status)) return
  const settings = store.getNotificationSettings()
  if (settings.webhooks.length === 0 && (settings.smtp === null || recipients.length === 0)) return
  const failures = await notifyRun(
    {
      runId: run.id,
      jobId: run.jobId,
      jobName,
      status: run.status,
      reason: run.reason,
      start: run.start,
      end: run.end,
      durationMs: run.end === null ? null : run.end - run.start,
      sizeBytes: run.sizeBytes,
      vms: run.vms,
    },
    reportWhen,
    recipients,
    settings,
    store.secrets.get('smtp'),
  )
  for (const failure of failures) log(`run ${run.id}: report to ${failure.target} failed: ${failure.message}`)
}
