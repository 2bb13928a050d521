// Texts of a run report for people (issue 12): the mail's subject and body, the webhook's `text`
// (the field Slack and Mattermost incoming webhooks display).
import { formatBytes, formatDuration } from '../../tasks/format.ts'
import type { RunReport } from '../model.ts'

// Job names and VM errors are user text: no line breaks in a header or a list line.
const oneLine = (text: string): string => text.replace(/\s*[\r\n]+\s*/g, ' ').trim()

const time = (ms: number | null): string => (ms === null ? '-' : new Date(ms).toISOString())

/** The mail subject: `[xapi-backup] <job name>: <status>`, on one line. */
export function reportSubject(report: RunReport): string {
  return `[xapi-backup] ${oneLine(report.jobName)}: ${report.status}`
}

/** One line: subject, VM count, size, duration and reason. */
export function reportSummary(report: RunReport): string {
  const parts = [
    `${report.vms.length} VM${report.vms.length === 1 ? '' : 's'}`,
    formatBytes(report.sizeBytes),
  ]
  if (report.durationMs !== null) parts.push(`in ${formatDuration(report.durationMs)}`)
  const reason = report.reason === null ? '' : ` (${oneLine(report.reason)})`
  return `${reportSubject(report)}: ${parts.join(', ')}${reason}`
}

/** The plain-text mail body: the run's facts, then one line per VM. */
export function reportText(report: RunReport): string {
  const lines = [
    `Job: ${oneLine(report.jobName)}${report.jobId === null ? '' : ` (${report.jobId})`}`,
    `Status: ${report.status}`,
  ]
  if (report.reason !== null) lines.push(`Reason: ${oneLine(report.reason)}`)
  lines.push(`Start: ${time(report.start)}`, `End: ${time(report.end)}`)
  if (report.durationMs !== null) lines.push(`Duration: ${formatDuration(report.durationMs)}`)
  lines.push(`Transferred: ${formatBytes(report.sizeBytes)}`, `Run: ${report.url ?? report.runId}`, '')
  lines.push(`VMs (${report.vms.length}):`)
  for (const vm of report.vms) {
    const name = vm.name === undefined ? vm.uuid : `${oneLine(vm.name)} (${vm.uuid})`
    lines.push(`- ${name}: ${vm.status}${vm.error === undefined ? '' : `: ${oneLine(vm.error)}`}`)
  }
  return `${lines.join('\n')}\n`
}
