import type { RunReport } from '../../model.ts'

/** A failed run of two VMs, for notification tests. */
export function sampleReport(overrides: Partial<RunReport> = {}): RunReport {
  return {
    runId: 'run-1',
    jobId: 'job-1',
    jobName: 'nightly',
    status: 'failure',
    reason: '1 of 2 VMs failed',
    start: Date.UTC(2026, 0, 2, 3),
    end: Date.UTC(2026, 0, 2, 3, 12, 5),
    durationMs: 725_000,
    sizeBytes: 3 * 1024 ** 3,
    vms: [
      { uuid: '11111111-1111-4111-8111-111111111111', name: 'web-1', status: 'success' },
      { uuid: '22222222-2222-4222-8222-222222222222', name: 'db-1', status: 'failure', error: 'SR full' },
    ],
    ...overrides,
  }
}
