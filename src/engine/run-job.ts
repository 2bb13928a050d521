// One run of a backup job (the seed's run description, xen-orchestra-backups.md §3.1 and §6): the
// job task, the VMs the pattern selects (info `vms`), `concurrency` VM runs at a time, each with
// `nRetriesVmBackupFailures` retries, one shared `maxExportRate`, and `timeout` enforced (XO
// declares it and ignores it: ADR 0008). A VM's failure is its own: the others go on.
import type { MergeStore } from '../formats/vhd/merge-store.ts'
import type { Remote } from '../remotes/remote.ts'
import type { Clock } from '../shared/clock.ts'
import { systemClock } from '../shared/clock.ts'
import { BackupError, isAbortError, serializeError } from '../shared/errors.ts'
import type { Task, TaskContext } from '../tasks/task.ts'
import { TaskSkipped, runJob } from '../tasks/task.ts'
import type { VmRecord, XapiClient, XapiRef } from '../xapi/types.ts'
import type { BackupTarget } from './backup-target.ts'
import type { Credential } from './credentials.ts'
import { createRateLimiter } from './rate-limit.ts'
import type { RateLimiter } from './rate-limit.ts'
import type { RunDescription } from './run-description.ts'
import { resolveSettings } from './settings.ts'
import type { VmBackupSettings } from './settings-schema.ts'
import { createRemoteTarget } from './targets/remote-target.ts'
import { createSrDeltaTarget } from './targets/sr-delta-target.ts'
import { createSrFullTarget } from './targets/sr-full-target.ts'
import type { VmCandidate, VmSelection } from './vm-selection.ts'
import { selectVms } from './vm-selection.ts'
import type { VmRunSources } from './vm-run/sources.ts'
import { runVmBackup } from './vm-run/vm-run.ts'

/** Why a job run stopped before or around its VMs. */
export type JobRunErrorCode =
  | 'JOB_TIMEOUT'
  | 'JOB_NO_VMS'
  | 'JOB_UNSUPPORTED'
  | 'JOB_VMS_FAILED'
  /** An SR of job.srs is in none of the connected pools (the other targets still ran). */
  | 'JOB_SR_NOT_FOUND'
  /** Every target of the job is unusable: no VM was backed up. */
  | 'JOB_NO_TARGETS'

/** A job-level failure (the VM-level ones are in each VM's task). */
export class JobRunError extends BackupError<JobRunErrorCode> {}

/** A remote the job writes to, opened by the caller (app/). */
export interface JobRemote {
  readonly remote: Remote
  /** In-place file access for merges; undefined for object storage (ADR 0005). */
  readonly mergeStore?: MergeStore | undefined
}

/** What one job run needs: the checked description with its credentials resolved, and connections. */
export interface BackupJobInput {
  readonly description: RunDescription<Credential>
  /** Connected clients by xapi id (the description's `xapis`). */
  readonly xapis: ReadonlyMap<string, XapiClient>
  /** Opened remotes by remote id (the description's `remotes`). */
  readonly remotes: ReadonlyMap<string, JobRemote>
  readonly sources: VmRunSources
  readonly clock?: Clock
}

/** The outcome of one VM in a job run. */
export interface VmOutcome {
  readonly uuid: string
  readonly status: 'success' | 'failure' | 'skipped'
  readonly error?: unknown
}

/** What a job run did: one outcome per VM (the task log has the details). */
export interface JobRunResult {
  readonly vms: readonly VmOutcome[]
}

interface FoundVm {
  readonly xapiId: string
  readonly xapi: XapiClient
  readonly record: VmRecord
  readonly candidate: VmCandidate
}

async function listCandidates(
  xapis: ReadonlyMap<string, XapiClient>,
  signal: AbortSignal,
): Promise<FoundVm[]> {
  const found: FoundVm[] = []
  for (const [xapiId, xapi] of xapis) {
    const pools = await xapi.getAllRecords('pool', { signal })
    const poolUuid = [...pools.values()][0]?.uuid ?? ''
    for (const record of (await xapi.getAllRecords('VM', { signal })).values())
      found.push({ xapiId, xapi, record, candidate: { ...record, poolUuid } })
  }
  return found
}

/** The VMs of every pool that the job's `vms` pattern selects (what a run would back up), read-only. */
export async function listJobVms(
  description: RunDescription<unknown>,
  xapis: ReadonlyMap<string, XapiClient>,
  signal: AbortSignal,
): Promise<VmSelection> {
  const candidates = await listCandidates(xapis, signal)
  return selectVms(
    description.job.vms,
    candidates.map((c) => c.candidate),
    description.job.id,
  )
}

/** The job's settings at the job and schedule level (concurrency, timeout, rate, retries, reportWhen). */
export function jobSettings(description: RunDescription<unknown>): VmBackupSettings {
  return resolveSettings(description.job.settings, { scheduleId: description.schedule.id }).values
}

/** An SR of job.srs found in one of the connected pools. */
interface FoundSr {
  readonly uuid: string
  readonly xapi: XapiClient
  readonly ref: XapiRef
}

/**
 * Finds each SR of job.srs in the connected pools, each under its own `get SR record` task (XO's
 * name): one that is nowhere fails its task and is left out; the job then ends in failure.
 */
async function findSrs(input: BackupJobInput, job: Task): Promise<{ found: FoundSr[]; missing: string[] }> {
  const found: FoundSr[] = []
  const missing: string[] = []
  for (const uuid of input.description.job.srs) {
    try {
      found.push(
        await job.run({ message: 'get SR record', data: { type: 'SR', id: uuid } }, async (task) => {
          for (const xapi of input.xapis.values()) {
            try {
              return { uuid, xapi, ref: await xapi.getByUuid('SR', uuid, { signal: task.signal }) }
            } catch (error) {
              if ((error as { code?: unknown }).code !== 'UUID_INVALID') throw error
            }
          }
          throw new JobRunError(
            'JOB_SR_NOT_FOUND',
            `SR ${uuid} of job.srs was not found in any connected pool (${input.xapis.size} pool(s))`,
            { details: { sr: uuid } },
          )
        }),
      )
    } catch (error) {
      if (job.signal.aborted) throw error
      missing.push(uuid)
    }
  }
  return { found, missing }
}

function targetsFor(
  input: BackupJobInput,
  srs: readonly FoundSr[],
  vmUuid: string,
  clock: Clock,
  task: Task,
): BackupTarget[] {
  const { description } = input
  const targets: BackupTarget[] = []
  for (const sr of srs) {
    const settings = resolveSettings(description.job.settings, {
      scheduleId: description.schedule.id,
      vmId: vmUuid,
      targetId: sr.uuid,
    }).values
    // As for remotes: no writer for an SR whose copyRetention is 0 (reference §3.1).
    if (settings.copyRetention < 1) {
      task.info(`SR ${sr.uuid} skipped: copyRetention is 0`, { sr: sr.uuid })
      continue
    }
    const options = { xapi: sr.xapi, srUuid: sr.uuid, srRef: sr.ref, settings, clock, sources: input.sources }
    targets.push(description.job.mode === 'full' ? createSrFullTarget(options) : createSrDeltaTarget(options))
  }
  for (const remoteId of description.job.remotes) {
    const settings = resolveSettings(description.job.settings, {
      scheduleId: description.schedule.id,
      vmId: vmUuid,
      targetId: remoteId,
    }).values
    // XO creates no writer for a remote whose exportRetention is 0 (reference §3.1).
    if (settings.exportRetention < 1) {
      task.info(`remote ${remoteId} skipped: exportRetention is 0`, { remote: remoteId })
      continue
    }
    const opened = input.remotes.get(remoteId)
    if (opened === undefined) throw new JobRunError('JOB_UNSUPPORTED', `remote ${remoteId} was not opened`)
    targets.push(
      createRemoteTarget({ remote: opened.remote, remoteId, settings, mergeStore: opened.mergeStore, clock }),
    )
  }
  return targets
}

async function runOneVm(
  input: BackupJobInput,
  srs: readonly FoundSr[],
  vm: FoundVm,
  rateLimiter: RateLimiter | undefined,
  clock: Clock,
  task: Task,
): Promise<void> {
  const { description } = input
  const point = { scheduleId: description.schedule.id, vmId: vm.record.uuid }
  const settings = resolveSettings(description.job.settings, point).values
  const retries = jobSettings(description).nRetriesVmBackupFailures
  for (let attempt = 1; ; attempt++) {
    try {
      await runVmBackup(
        {
          xapi: vm.xapi,
          job: {
            id: description.job.id,
            name: description.job.name,
            mode: description.job.mode,
            compression: description.job.compression,
          },
          scheduleId: description.schedule.id,
          vmUuid: vm.record.uuid,
          settings,
          snapshotRetentionOf: (scheduleId) =>
            resolveSettings(description.job.settings, { scheduleId, vmId: vm.record.uuid }).values
              .snapshotRetention,
          // Targets hold per-run state (the VM lock, chosen bases): new ones for every attempt.
          targets: targetsFor(input, srs, vm.record.uuid, clock, task),
          sources: input.sources,
          clock,
          ...(rateLimiter === undefined ? {} : { rateLimiter }),
        },
        task,
      )
      return
    } catch (error) {
      // A timeout would time out again: retrying it only doubles the time the VM is held.
      const timedOut = (error as { code?: unknown }).code === 'VM_RUN_TIMEOUT'
      if (attempt > retries || task.signal.aborted || isAbortError(error) || timedOut) throw error
      task.warning('Retry the VM backup due to an error', {
        attempt,
        error: serializeError(error),
        isRetry: true,
      })
    }
  }
}

function startJobTimeout(
  timeoutMs: number,
  parent: AbortSignal | undefined,
): { signal: AbortSignal; stop: () => void } {
  const controller = new AbortController()
  const onAbort = (): void => {
    controller.abort(parent?.reason)
  }
  if (parent?.aborted === true) onAbort()
  parent?.addEventListener('abort', onAbort, { once: true })
  const timer =
    timeoutMs > 0
      ? setTimeout(() => {
          controller.abort(
            new JobRunError('JOB_TIMEOUT', `the job ran longer than its timeout (${timeoutMs} ms)`, {
              details: { timeoutMs },
            }),
          )
        }, timeoutMs)
      : undefined
  timer?.unref()
  return {
    signal: controller.signal,
    stop: () => {
      clearTimeout(timer)
      parent?.removeEventListener('abort', onAbort)
    },
  }
}

/**
 * Runs one backup job under a `job.start … job.end` log in `context` and resolves to each VM's
 * outcome. The job ends `failure` when a VM failed (each VM's error is in its own task), `skipped`
 * when no VM matched, and aborts every VM run cleanly on `context.signal` or the job `timeout`.
 * An SR of job.srs that no pool has fails its `get SR record` task; the other targets still run
 * and the job ends in failure (JOB_SR_NOT_FOUND), or at once when no target is left.
 */
export async function runBackupJob(input: BackupJobInput, context: TaskContext): Promise<JobRunResult> {
  const { description } = input
  const clock = input.clock ?? context.clock ?? systemClock
  const settings = jobSettings(description)
  const deadline = startJobTimeout(settings.timeout, context.signal)
  const data = {
    mode: description.job.mode,
    reportWhen: settings.reportWhen,
    jobId: description.job.id,
    jobName: description.job.name,
    scheduleId: description.schedule.id,
  }
  try {
    return await runJob({ ...context, clock, signal: deadline.signal }, data, async (job) => {
      const srs = await findSrs(input, job)
      if (srs.missing.length > 0 && srs.found.length === 0 && description.job.remotes.length === 0)
        throw new JobRunError(
          'JOB_NO_TARGETS',
          `no target left: SR ${srs.missing.join(', ')} not found in any connected pool`,
          { details: { srs: srs.missing } },
        )
      const candidates = await listCandidates(input.xapis, job.signal)
      const byUuid = new Map(candidates.map((c) => [c.record.uuid, c]))
      const selection = selectVms(
        description.job.vms,
        candidates.map((c) => c.candidate),
        description.job.id,
      )
      job.info('vms', { vms: selection.selected.map((vm) => vm.uuid) })
      for (const { vm, reason } of selection.excluded)
        job.info(`VM ${vm.name_label} (${vm.uuid}) not backed up: ${reason}`, { vm: vm.uuid })
      for (const id of selection.missing)
        job.warning(`VM ${id} of job.vms was not found in any pool`, { vm: id })
      if (selection.selected.length === 0 && selection.missing.length === 0)
        throw new TaskSkipped('no VMs match this pattern')
      const rateLimiter =
        settings.maxExportRate > 0 ? createRateLimiter(settings.maxExportRate, { clock }) : undefined
      const outcomes: VmOutcome[] = selection.missing.map((uuid) => ({
        uuid,
        status: 'failure',
        error: new JobRunError('JOB_NO_VMS', `VM ${uuid} not found`),
      }))
      const queue = selection.selected.map((vm) => byUuid.get(vm.uuid) as FoundVm)
      const limit = settings.concurrency === 0 ? Math.max(1, queue.length) : settings.concurrency
      let next = 0
      const worker = async (): Promise<void> => {
        while (next < queue.length && !job.signal.aborted) {
          const vm = queue[next++] as FoundVm
          const properties = {
            data: { type: 'VM', id: vm.record.uuid, name_label: vm.record.name_label },
          }
          try {
            await job.run(properties, (task) => runOneVm(input, srs.found, vm, rateLimiter, clock, task))
            outcomes.push({ uuid: vm.record.uuid, status: 'success' })
          } catch (error) {
            const skipped = error instanceof TaskSkipped
            outcomes.push({ uuid: vm.record.uuid, status: skipped ? 'skipped' : 'failure', error })
          }
        }
      }
      await Promise.all(Array.from({ length: Math.min(limit, Math.max(1, queue.length)) }, worker))
      job.signal.throwIfAborted()
      const failed = outcomes.filter((o) => o.status === 'failure')
      if (failed.length > 0)
        throw new JobRunError(
          'JOB_VMS_FAILED',
          `${failed.length} of ${outcomes.length} VM(s) failed: ${failed.map((o) => o.uuid).join(', ')}`,
          { details: { vms: failed.map((o) => o.uuid) } },
        )
      if (srs.missing.length > 0)
        throw new JobRunError(
          'JOB_SR_NOT_FOUND',
          `SR ${srs.missing.join(', ')} of job.srs not found in any connected pool: the other targets were written`,
          { details: { srs: srs.missing } },
        )
      return { vms: outcomes }
    })
  } finally {
    deadline.stop()
  }
}
