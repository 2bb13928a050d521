import type { Remote } from '../../remotes/remote.ts'
import type { CheckReport, Finding, FindingKind, RepairResult } from '../../repository/check.ts'
import { doubtfulFindings, repairVmBackups } from '../../repository/check.ts'
import type { Json } from '../../shared/json.ts'
import type { Task } from '../../tasks/task.ts'

const ALWAYS_SAFE: readonly FindingKind[] = ['temp-file', 'size-mismatch']
const SAFE_WHEN_SURE: readonly FindingKind[] = ['orphan-vhd', 'orphan-file']

/** At most this many findings are quoted in a warning (a damaged folder can have thousands). */
const MAX_QUOTED = 20

/** The findings as a warning quotes them: kind, path and message of the first MAX_QUOTED. */
export function quoteFindings(findings: readonly Finding[]): Json[] {
  return findings.slice(0, MAX_QUOTED).map((f) => ({ kind: f.kind, path: f.path, message: f.message }))
}

/**
 * The repair a backup run applies on its own (ADR 0006, more cautious still): temp files of
 * interrupted writes and stale delta sizes always; orphan VHDs and files only when the check found
 * nothing doubtful (unreadable metadata, an incomplete backup, a broken VHD), which is instead
 * reported in one warning and left for `backups check --repair`. The caller holds the VM lock.
 */
export async function repairUnattended(
  remote: Remote,
  report: CheckReport,
  task: Task,
): Promise<RepairResult> {
  const doubtful = doubtfulFindings(report)
  if (doubtful.length > 0)
    task.warning(
      `${doubtful.length} problem(s) in the backups of VM ${report.vmUuid} are left for \`backups check --repair\`: they may come from a passing read error, so this run deletes nothing that could belong to a backup`,
      { findings: quoteFindings(doubtful) },
    )
  const findings = report.findings.filter(
    (f) => ALWAYS_SAFE.includes(f.kind) || (doubtful.length === 0 && SAFE_WHEN_SURE.includes(f.kind)),
  )
  return repairVmBackups(remote, { ...report, findings }, task)
}
