// The composition root of what the job server does beyond its store (issue 12): log in to a pool to
// test it or list its VMs and SRs, test a remote, list a remote's backups. Each call opens what it
// needs and closes it; errors name the pool or remote, never a password or a URL's credentials.
import { listBackupVms, listVmBackups } from '../repository/listing.ts'
import { testRemote } from '../remotes/remote-test.ts'
import { parseRemoteArgument } from '../remotes/url.ts'
import type { RemoteTestResult } from '../remotes/remote-test.ts'
import type { Clock } from '../shared/clock.ts'
import { systemClock } from '../shared/clock.ts'
import { mapWithConcurrency } from '../shared/async.ts'
import { redactText } from '../shared/redact-text.ts'
import { HttpXapiClient } from '../xapi/http-xapi-client.ts'
import type { XapiClient } from '../xapi/types.ts'
import { openRepository } from './open-repository.ts'
import type { XapiLogin } from './restore.ts'

/** A VM of a pool as the console lists it (not templates, snapshots or the control domain). */
export interface PoolVm {
  readonly uuid: string
  readonly name: string
  readonly powerState: string
  readonly tags: readonly string[]
}

/** An SR of a pool. */
export interface PoolSr {
  readonly uuid: string
  readonly name: string
  readonly type: string
  readonly sizeBytes: number
  readonly usedBytes: number
}

/** A backup on a remote as the API lists it. */
export interface BackupItem {
  readonly id: string
  readonly vmUuid: string
  readonly vmName: string
  readonly jobId: string
  readonly jobName: string
  readonly scheduleId: string
  readonly mode: 'full' | 'delta'
  readonly timestamp: number
  readonly sizeBytes: number
  /** Every file the metadata names is there (restorable). */
  readonly complete: boolean
}

const reasonOf = (error: unknown): string =>
  redactText(error instanceof Error ? error.message : String(error))

/** Logs in to the pool, runs `fn`, logs out whatever happens. */
export async function withPool<T>(
  login: XapiLogin,
  fn: (xapi: XapiClient) => Promise<T>,
  options: { clock?: Clock; signal?: AbortSignal } = {},
): Promise<T> {
  const xapi = new HttpXapiClient({
    url: login.url,
    user: login.user,
    password: login.password,
    allowUnauthorized: login.allowUnauthorized === true,
    clock: options.clock ?? systemClock,
  })
  try {
    await xapi.connect(options.signal === undefined ? {} : { signal: options.signal })
    return await fn(xapi)
  } finally {
    await xapi.disconnect().catch(() => undefined)
  }
}

/** Logs in and reads the pool's name and host count: `{ok: false, error}` instead of throwing. */
export async function testPool(
  login: XapiLogin,
  options: { clock?: Clock; signal?: AbortSignal } = {},
): Promise<{ ok: true; poolName: string; hosts: number } | { ok: false; error: string }> {
  try {
    return await withPool(
      login,
      async (xapi) => {
        const pools = [...(await xapi.getAllRecords('pool')).values()]
        const hosts = await xapi.getAllRecords('host')
        return { ok: true as const, poolName: pools[0]?.name_label ?? '', hosts: hosts.size }
      },
      options,
    )
  } catch (error) {
    return { ok: false, error: `cannot log in to ${login.url}: ${reasonOf(error)}` }
  }
}

/** The pool's VMs that can be backed up (no templates, snapshots or control domains), by name. */
export async function listPoolVms(login: XapiLogin, options: { clock?: Clock } = {}): Promise<PoolVm[]> {
  return withPool(
    login,
    async (xapi) =>
      [...(await xapi.getAllRecords('VM')).values()]
        .filter((vm) => !vm.is_a_template && !vm.is_a_snapshot && !vm.is_control_domain)
        .map((vm) => ({ uuid: vm.uuid, name: vm.name_label, powerState: vm.power_state, tags: vm.tags }))
        .sort((a, b) => a.name.localeCompare(b.name)),
    options,
  )
}

/** The pool's SRs that hold VM disks (content type not `iso`), by name. */
export async function listPoolSrs(login: XapiLogin, options: { clock?: Clock } = {}): Promise<PoolSr[]> {
  return withPool(
    login,
    async (xapi) =>
      [...(await xapi.getAllRecords('SR')).values()]
        .filter((sr) => sr.content_type !== 'iso')
        .map((sr) => ({
          uuid: sr.uuid,
          name: sr.name_label,
          type: sr.type,
          sizeBytes: sr.physical_size,
          usedBytes: sr.physical_utilisation,
        }))
        .sort((a, b) => a.name.localeCompare(b.name)),
    options,
  )
}

/** `remote test` on the remote at `url` (1 MiB written, read back, compared, deleted). */
export async function testRemoteUrl(url: string, options: { clock?: Clock } = {}): Promise<RemoteTestResult> {
  const clock = options.clock ?? systemClock
  const repository = await openRepository(url, { clock })
  try {
    return await testRemote(repository.remote, { sizeBytes: 1 << 20, clock })
  } finally {
    await repository.close()
  }
}

/** Every backup on the remote at `url` (of VM `vmUuid` when given), newest first; unreadable metadata left out. */
export async function listRemoteBackups(url: string, vmUuid?: string): Promise<BackupItem[]> {
  const repository = await openRepository(url)
  try {
    const vms = vmUuid === undefined ? await listBackupVms(repository.remote) : [vmUuid]
    const lists = await mapWithConcurrency(vms, 4, (vm) => listVmBackups(repository.remote, vm))
    return lists
      .flatMap((list) => list.backups)
      .map((b): BackupItem => ({
        id: b.id,
        vmUuid: b.vmUuid,
        vmName: b.metadata.vm.name_label ?? '',
        jobId: b.metadata.jobId,
        jobName: typeof b.metadata['jobName'] === 'string' ? b.metadata['jobName'] : '',
        scheduleId: b.metadata.scheduleId,
        mode: b.metadata.mode,
        timestamp: b.timestampMs,
        sizeBytes: b.metadata.size ?? 0,
        complete: b.missingFiles.length === 0,
      }))
      .sort((a, b) => b.timestamp - a.timestamp)
  } finally {
    await repository.close()
  }
}

/** Why `url` is not a remote URL this build can open (without its secrets), or undefined. */
export function checkRemoteUrl(url: string): string | undefined {
  if (!url.includes('://') && !url.startsWith('/'))
    return 'expected file://, s3://, s3+http://, nfs://, smb:// or an absolute path'
  try {
    parseRemoteArgument(url)
    return undefined
  } catch (error) {
    return reasonOf(error)
  }
}
