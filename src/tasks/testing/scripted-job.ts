import { createFixedClock } from '../../shared/clock.ts'
import { BackupError } from '../../shared/errors.ts'
import type { TaskSink } from '../events.ts'
import type { Task } from '../task.ts'
import { runJob, TaskSkipped } from '../task.ts'

/** UUIDs of the scripted job's VMs. */
export const VM = {
  ok: '0f5d2a3c-1b2c-4d5e-8f90-a1b2c3d4e5f6',
  failing: '11111111-2222-4333-8444-555555555555',
  skipped: '66666666-7777-4888-9999-aaaaaaaaaaaa',
  hanging: 'bbbbbbbb-cccc-4ddd-8eee-ffffffffffff',
} as const

async function backupVm(vm: string, job: Task, step: (task: Task) => Promise<void>): Promise<void> {
  await job.run({ data: { type: 'VM', id: vm } }, async (task) => {
    await task.run({ message: 'snapshot' }, () => Promise.resolve(`${vm}-snapshot`))
    await task.run(
      { message: 'export', data: { type: 'remote', id: 'nfs-1', isFull: false } },
      async (exp) => {
        await exp.run({ message: 'transfer' }, step, { result: () => ({ size: 3 * 1024 ** 3 }) })
        await exp.run({ message: 'merge' }, () => Promise.resolve({ size: 512 * 1024 ** 2 }))
      },
    )
  })
}

/**
 * Writes to `sink` the seed's backup tree for four VMs: one succeeds (with a warning), one fails
 * in `transfer`, one is skipped, and one never ends (its promise is returned as `hanging` so the
 * caller can read the log while it is unfinished, as after a crash). A FixedClock makes every
 * timestamp deterministic: each step takes exactly the time the clock is advanced.
 */
export function runScriptedJob(sink: TaskSink, options: { credentials?: string } = {}) {
  const clock = createFixedClock(Date.UTC(2026, 10, 27, 3, 0, 0))
  let release: () => void = () => undefined
  const hanging = new Promise<void>((resolve) => (release = resolve))
  const done = runJob(
    { sink, clock },
    {
      mode: 'delta',
      reportWhen: 'failure',
      ...(options.credentials === undefined ? {} : { password: options.credentials }),
    },
    async (job) => {
      job.info('vms', { vms: Object.values(VM) })
      job.warning('remote nfs-1 is 91% full')
      const results = await Promise.allSettled([
        backupVm(VM.ok, job, async (t) => {
          t.warning('VDI 2 was resized since the last backup: forcing a full')
          clock.advance(6000)
          await Promise.resolve()
        }),
        backupVm(VM.failing, job, () => {
          clock.advance(1500)
          return Promise.reject(
            new BackupError('TRANSFER_FAILED', 'connection reset by XAPI', {
              cause: new Error('ECONNRESET'),
            }),
          )
        }),
        job.run({ data: { type: 'VM', id: VM.skipped } }, () =>
          Promise.reject(new TaskSkipped('no disks found')),
        ),
        backupVm(VM.hanging, job, () => hanging),
      ])
      return results.map((r) => r.status)
    },
  )
  return { done, release, clock }
}
