// The job server's /metrics (issue 12) in Prometheus text exposition format 0.0.4: run counts,
// bytes, durations and last successes, from aggregates the caller computes from the store.
import type { RunState } from './model.ts'

/** The content type of renderMetrics' output. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

/** Run states counted by xapi_backup_runs_total: the final ones (a counter never goes down). */
export const COUNTED_RUN_STATES = [
  'success',
  'failure',
  'interrupted',
  'skipped',
  'missed',
] as const satisfies readonly RunState[]

/** Aggregates of one job's runs; `job` is the label value (the job's name, unique among jobs). */
export interface JobMetrics {
  readonly job: string
  /** Finished runs by status; states left out count 0, pending/running are ignored. */
  readonly runs: Partial<Record<RunState, number>>
  readonly transferredBytes: number
  /** Sum and count of the finished runs' durations. */
  readonly durationSecondsSum: number
  readonly durationCount: number
  /** Epoch ms of the last successful run's end, null when none. */
  readonly lastSuccessMs: number | null
}

/** The last successful backup of one VM. */
export interface VmMetrics {
  readonly uuid: string
  readonly name: string
  readonly lastSuccessMs: number
}

/** What renderMetrics shows. */
export interface MetricsInput {
  readonly jobs: readonly JobMetrics[]
  readonly vms: readonly VmMetrics[]
  readonly runningRuns: number
}

type Labels = readonly (readonly [string, string])[]

interface Family {
  readonly name: string
  readonly type: 'counter' | 'gauge' | 'summary'
  readonly help: string
  readonly samples: readonly { readonly suffix?: string; readonly labels: Labels; readonly value: number }[]
}

/** Escapes a label value: backslash, double quote and line feed (exposition format 0.0.4). */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN'
  if (value === Infinity) return '+Inf'
  if (value === -Infinity) return '-Inf'
  return String(value)
}

function renderFamily(family: Family): string[] {
  const lines = [`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`]
  for (const sample of family.samples) {
    const labels = sample.labels.map(([key, value]) => `${key}="${escapeLabelValue(value)}"`).join(',')
    const name = `${family.name}${sample.suffix ?? ''}`
    lines.push(`${name}${labels === '' ? '' : `{${labels}}`} ${formatValue(sample.value)}`)
  }
  return lines
}

const byJob = (a: JobMetrics, b: JobMetrics): number => (a.job < b.job ? -1 : a.job > b.job ? 1 : 0)

function jobFamilies(jobs: readonly JobMetrics[]): Family[] {
  const sorted = [...jobs].sort(byJob)
  return [
    {
      name: 'xapi_backup_runs_total',
      type: 'counter',
      help: 'Finished runs by job and final status (from the kept run history).',
      // Every status of every job, zeros included, so rate() sees a series from the start.
      samples: sorted.flatMap((j) =>
        COUNTED_RUN_STATES.map((status) => ({
          labels: [
            ['job', j.job],
            ['status', status],
          ] as const,
          value: j.runs[status] ?? 0,
        })),
      ),
    },
    {
      name: 'xapi_backup_transferred_bytes_total',
      type: 'counter',
      help: 'Bytes written to backup targets by job.',
      samples: sorted.map((j) => ({ labels: [['job', j.job]] as const, value: j.transferredBytes })),
    },
    {
      name: 'xapi_backup_run_duration_seconds',
      type: 'summary',
      help: 'Duration of finished runs by job.',
      samples: sorted.flatMap((j) => [
        { suffix: '_sum', labels: [['job', j.job]] as const, value: j.durationSecondsSum },
        { suffix: '_count', labels: [['job', j.job]] as const, value: j.durationCount },
      ]),
    },
    {
      name: 'xapi_backup_last_success_timestamp_seconds',
      type: 'gauge',
      help: 'End of the last successful run of the job, in seconds since the epoch.',
      samples: sorted.flatMap((j) =>
        j.lastSuccessMs === null
          ? []
          : [{ labels: [['job', j.job]] as const, value: j.lastSuccessMs / 1000 }],
      ),
    },
  ]
}

/** The metrics as Prometheus text format 0.0.4: HELP and TYPE per family, series sorted, labels escaped. */
export function renderMetrics(input: MetricsInput): string {
  const vms = [...input.vms].sort((a, b) => (a.uuid < b.uuid ? -1 : a.uuid > b.uuid ? 1 : 0))
  const families: Family[] = [
    ...jobFamilies(input.jobs),
    {
      name: 'xapi_backup_vm_last_success_timestamp_seconds',
      type: 'gauge',
      help: 'End of the last successful backup of the VM, in seconds since the epoch.',
      samples: vms.map((vm) => ({
        labels: [
          ['vm', vm.uuid],
          ['vm_name', vm.name],
        ] as const,
        value: vm.lastSuccessMs / 1000,
      })),
    },
    {
      name: 'xapi_backup_runs_running',
      type: 'gauge',
      help: 'Runs in progress.',
      samples: [{ labels: [], value: input.runningRuns }],
    },
  ]
  return `${families.flatMap(renderFamily).join('\n')}\n`
}
