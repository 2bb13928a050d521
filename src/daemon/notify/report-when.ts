// When a run is reported (issue 12), with Xen Orchestra's meanings of a job's reportWhen (facts
// read from its backup-reports plugin): 'failure' reports everything but a success, 'error' does
// not report skipped runs either. A missed run (the server was down at its time) is reported by
// 'failure' and 'error': a backup that never happened is what these settings exist to tell.
import type { RunState } from '../model.ts'

/** A job's reportWhen setting. */
export type ReportWhen = 'always' | 'failure' | 'error' | 'never'

const FINISHED: ReadonlySet<RunState> = new Set(['success', 'failure', 'interrupted', 'skipped', 'missed'])

/** True when a run that ended in `status` is to be reported under `reportWhen`; never for a pending or running run. */
export function shouldReport(reportWhen: ReportWhen, status: RunState): boolean {
  if (!FINISHED.has(status)) return false
  switch (reportWhen) {
    case 'always':
      return true
    case 'failure':
      return status !== 'success'
    case 'error':
      // A skipped run means the previous run of the job was still going: not an error of its own.
      return status !== 'success' && status !== 'skipped'
    case 'never':
      return false
  }
}
