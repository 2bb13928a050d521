import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { reportSubject, reportSummary, reportText } from './format-report.ts'
import { sampleReport } from './testing/sample-report.ts'

describe('report texts', () => {
  it('subject and summary are one line even when the job name is not', () => {
    const report = sampleReport({ jobName: 'night\r\nBcc: evil@example.com' })
    assert.equal(reportSubject(report), '[xapi-backup] night Bcc: evil@example.com: failure')
    assert.equal(
      reportSummary(sampleReport()),
      '[xapi-backup] nightly: failure: 2 VMs, 3.00 GiB, in 12 min 05 s (1 of 2 VMs failed)',
    )
  })

  it('the body lists the facts and every VM with its error', () => {
    assert.equal(
      reportText(sampleReport({ url: 'https://backup.example/runs/run-1' })),
      [
        'Job: nightly (job-1)',
        'Status: failure',
        'Reason: 1 of 2 VMs failed',
        'Start: 2026-01-02T03:00:00.000Z',
        'End: 2026-01-02T03:12:05.000Z',
        'Duration: 12 min 05 s',
        'Transferred: 3.00 GiB',
        'Run: https://backup.example/runs/run-1',
        '',
        'VMs (2):',
        '- web-1 (11111111-1111-4111-8111-111111111111): success',
        '- db-1 (22222222-2222-4222-8222-222222222222): failure: SR full',
        '',
      ].join('\n'),
    )
  })
})
