// Status badges and icons: one color and one shape per status, everywhere in the console.
import type { RunState } from '../types.ts'

/** Every status the console draws: run states and task-tree statuses. */
export type AnyStatus = RunState | 'interrupted' | 'pending'

const LABEL: Readonly<Record<AnyStatus, string>> = {
  pending: 'pending',
  running: 'running',
  success: 'success',
  failure: 'failed',
  interrupted: 'interrupted',
  skipped: 'skipped',
  missed: 'missed',
}

/** A colored pill naming `status`; `data-status` carries the raw value for tests. */
export function StatusBadge({ status }: { readonly status: AnyStatus }) {
  return (
    <span class={`badge badge-${status}`} data-status={status}>
      <StatusIcon status={status} />
      {LABEL[status]}
    </span>
  )
}

const PATHS: Readonly<Record<AnyStatus, string>> = {
  success: 'M3.5 8.5l3 3 6-7',
  failure: 'M4.5 4.5l7 7M11.5 4.5l-7 7',
  skipped: 'M4 4l5 4-5 4M11 4v8',
  missed: 'M4 8h8',
  interrupted: 'M8 4v5M8 11.5v.5',
  pending: 'M8 4.5V8l2.5 1.5',
  running: 'M8 4.5V8l2.5 1.5',
}

/** A 16 px icon for `status` (running and pending spin their ring). */
export function StatusIcon({ status }: { readonly status: AnyStatus }) {
  const live = status === 'running' || status === 'pending'
  return (
    <svg class={`icon icon-${status}${live ? ' spin' : ''}`} viewBox="0 0 16 16" aria-hidden="true">
      <circle
        cx="8"
        cy="8"
        r="6.5"
        fill="none"
        stroke-width="1.5"
        stroke-dasharray={live ? '30 11' : undefined}
      />
      <path d={PATHS[status]} fill="none" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" />
    </svg>
  )
}
