// The composition root of `xapi-backup restore`: a remote URL and a backup id → the repository and
// its listing, an XAPI login, the SRs by uuid → the engine's restoreBackup under the seed's root
// `restore` task → everything closed. Failures before the restore starts (a backup that is not
// there, a login refused, an SR that does not exist) name what they are about and make nothing.
import type { RestoredVm } from '../engine/restore/restore-backup.ts'
import { restoreBackup, restoreTaskProperties } from '../engine/restore/restore-backup.ts'
import type { Remote } from '../remotes/remote.ts'
import { parseBackupFileName, VM_BACKUPS_DIR } from '../repository/layout.ts'
import type { BackupListing } from '../repository/listing.ts'
import { listVmBackups } from '../repository/listing.ts'
import type { Clock } from '../shared/clock.ts'
import { systemClock } from '../shared/clock.ts'
import { BackupError } from '../shared/errors.ts'
import { isUuid } from '../shared/ids.ts'
import type { TaskSink } from '../tasks/events.ts'
import { runRootTask } from '../tasks/task.ts'
import { HttpXapiClient } from '../xapi/http-xapi-client.ts'
import { isXapiErrorCode } from '../xapi/xapi-error.ts'
import type { XapiClient, XapiRef } from '../xapi/types.ts'
import { openRepository } from './open-repository.ts'

/** Stable codes of RestoreSetupError. */
export type RestoreSetupErrorCode =
  /** The backup id is not `xo-vm-backups/<vm uuid>/<timestamp>.json`. */
  | 'BACKUP_ID_INVALID'
  /** No backup with this id on the remote (or its metadata is unusable: the message says why). */
  | 'BACKUP_NOT_FOUND'
  /** The remote could not be opened, or the pool logged in to. */
  | 'RESTORE_SETUP_FAILED'
  /** No SR with this uuid on the pool. */
  | 'SR_NOT_FOUND'

/** What stopped a restore before it started: which backup, remote, pool or SR, and why. */
export class RestoreSetupError extends BackupError<RestoreSetupErrorCode> {}

/** Where to log in: the pool master's URL, a user and a password (never from a command line). */
export interface XapiLogin {
  readonly url: string
  readonly user: string
  readonly password: string
  /** Accept any TLS certificate (XAPI's default self-signed one); default: verified. */
  readonly allowUnauthorized?: boolean
}

/** Options of restoreFromRemote. */
export interface RestoreFromRemoteOptions {
  /** The remote (file://, s3://, nfs://, smb:// or an absolute path). */
  readonly remoteUrl: string
  /** `xo-vm-backups/<vm uuid>/<timestamp>.json`, as `backups list --json` gives it. */
  readonly backupId: string
  readonly xapi: XapiLogin
  readonly srUuid: string
  /** VDI uuid (the backed-up or the live one) → SR uuid, or null to leave that disk out. */
  readonly mapDisks?: ReadonlyMap<string, string | null>
  readonly newMacAddresses?: boolean
  /** Where the task log goes: root `restore` → `transfer` (seed "During restoration"). */
  readonly sink: TaskSink
  readonly signal?: AbortSignal
  readonly clock?: Clock
}

/** What restoreFromRemote made. */
export interface RestoreOutcome extends RestoredVm {
  readonly backupId: string
  /** The restored VM's name (`<name> (<backup timestamp>)`). */
  readonly nameLabel: string
}

const reasonOf = (error: unknown): string => {
  const code = (error as { code?: unknown }).code
  const message = error instanceof Error ? error.message : String(error)
  return typeof code === 'string' && !message.includes(code) ? `${message} [${code}]` : message
}

/**
 * The VM uuid and metadata path of a backup id: `xo-vm-backups/<vm uuid>/<timestamp>.json` (a
 * leading `/` allowed), or RestoreSetupError BACKUP_ID_INVALID (`..`, other folders, other files).
 */
export function parseRestoreBackupId(id: string): { readonly vmUuid: string; readonly path: string } {
  const match = new RegExp(`^/?${VM_BACKUPS_DIR}/([^/]+)/([^/]+)$`).exec(id)
  const vmUuid = match?.[1] ?? ''
  if (match === null || !isUuid(vmUuid) || parseBackupFileName(match[2] ?? '')?.kind !== 'metadata')
    throw new RestoreSetupError(
      'BACKUP_ID_INVALID',
      `invalid backup id ${JSON.stringify(id.slice(0, 200))}: expected ${VM_BACKUPS_DIR}/<vm uuid>/<timestamp>.json`,
    )
  return { vmUuid: vmUuid.toLowerCase(), path: `${VM_BACKUPS_DIR}/${vmUuid.toLowerCase()}/${match[2] ?? ''}` }
}

/** The listed backup `path` of `vmUuid`, or BACKUP_NOT_FOUND saying why (absent, or its metadata unusable). */
async function findBackup(remote: Remote, vmUuid: string, path: string): Promise<BackupListing> {
  // No cache: the restore only reads the remote (listing with a cache may rewrite it).
  const { backups, invalid } = await listVmBackups(remote, vmUuid, { useCache: false })
  const backup = backups.find((b) => b.id === path)
  if (backup !== undefined) return backup
  const bad = invalid.find((b) => b.path === path)
  const where = remote.description
  if (bad !== undefined)
    throw new RestoreSetupError('BACKUP_NOT_FOUND', `backup ${path} in ${where} is unusable: ${bad.message}`)
  const known = backups.map((b) => b.id.slice(b.id.lastIndexOf('/') + 1)).join(', ')
  throw new RestoreSetupError(
    'BACKUP_NOT_FOUND',
    `no backup ${path} in ${where} (${known === '' ? 'the VM has no backups there' : `backups of this VM: ${known}`})`,
  )
}

/** The ref of the SR `uuid`, or SR_NOT_FOUND naming it and the pool. */
async function srRefOf(xapi: XapiClient, uuid: string, url: string, signal?: AbortSignal): Promise<XapiRef> {
  if (!isUuid(uuid)) throw new RestoreSetupError('SR_NOT_FOUND', `SR ${JSON.stringify(uuid)}: not a uuid`)
  try {
    return await xapi.getByUuid('SR', uuid, signal === undefined ? {} : { signal })
  } catch (error) {
    if (isXapiErrorCode(error, 'UUID_INVALID'))
      throw new RestoreSetupError('SR_NOT_FOUND', `no SR with uuid ${uuid} on ${url}`, { cause: error })
    throw error
  }
}

/** What a restore (or a health check) works with once its setup succeeded. */
export interface RestoreContext {
  readonly xapi: XapiClient
  readonly remote: Remote
  readonly backup: BackupListing
  readonly srRef: XapiRef
  readonly clock: Clock
}

/**
 * The setup shared by `restore` and `health-check`: finds the backup `backupId` in its VM's
 * listing on the remote (BACKUP_NOT_FOUND, with the backups there are), logs in to the pool
 * (RESTORE_SETUP_FAILED naming the URL), resolves the SR (SR_NOT_FOUND), then runs `fn`. The remote
 * is only read; the session is logged out and the remote closed whatever happens.
 */
export async function withRestoreContext<T>(
  options: Pick<RestoreFromRemoteOptions, 'remoteUrl' | 'backupId' | 'xapi' | 'srUuid' | 'signal' | 'clock'>,
  fn: (context: RestoreContext) => Promise<T>,
): Promise<T> {
  const { vmUuid, path } = parseRestoreBackupId(options.backupId)
  const clock = options.clock ?? systemClock
  const { signal } = options
  const repository = await openRepository(options.remoteUrl, { clock }).catch((error: unknown) => {
    throw new RestoreSetupError('RESTORE_SETUP_FAILED', `cannot open the remote: ${reasonOf(error)}`, {
      cause: error,
    })
  })
  const xapi = new HttpXapiClient({
    url: options.xapi.url,
    user: options.xapi.user,
    password: options.xapi.password,
    allowUnauthorized: options.xapi.allowUnauthorized === true,
    clock,
  })
  try {
    const backup = await findBackup(repository.remote, vmUuid, path)
    await xapi.connect(signal === undefined ? {} : { signal }).catch((error: unknown) => {
      // The client's errors never carry the password (src/xapi redacts it).
      throw new RestoreSetupError(
        'RESTORE_SETUP_FAILED',
        `cannot log in to ${options.xapi.url}: ${reasonOf(error)}`,
        {
          cause: error,
        },
      )
    })
    const srRef = await srRefOf(xapi, options.srUuid, options.xapi.url, signal)
    return await fn({ xapi, remote: repository.remote, backup, srRef, clock })
  } finally {
    await Promise.allSettled([xapi.disconnect(), repository.close()])
  }
}

/**
 * Restores the backup `backupId` of the remote at `remoteUrl` onto the SR `srUuid` of the pool
 * behind `xapi` (setup: withRestoreContext), then runs restoreBackup under a root `restore` task
 * logged to `sink`.
 */
export async function restoreFromRemote(options: RestoreFromRemoteOptions): Promise<RestoreOutcome> {
  const { signal } = options
  return withRestoreContext(options, async ({ xapi, remote, backup, srRef, clock }) => {
    const mapVdiSrs = new Map<string, XapiRef | null>()
    for (const [vdi, sr] of options.mapDisks ?? [])
      mapVdiSrs.set(vdi, sr === null ? null : await srRefOf(xapi, sr, options.xapi.url, signal))
    const restored = await runRootTask(
      { sink: options.sink, clock, ...(signal === undefined ? {} : { signal }) },
      restoreTaskProperties(backup, options.srUuid.toLowerCase()),
      (task) =>
        restoreBackup(
          {
            xapi,
            remote,
            backup,
            srRef,
            mapVdiSrs,
            remoteName: remote.description,
            clock,
            ...(options.newMacAddresses === undefined ? {} : { newMacAddresses: options.newMacAddresses }),
            ...(signal === undefined ? {} : { signal }),
          },
          task,
        ),
      // The seed's restore task ends without a result: the VM is its transfer's `id`.
      { result: () => undefined },
    )
    // The VM is restored: failing to read its name back must not report the restore as failed.
    const nameLabel = await xapi.getRecord('VM', restored.vmRef).then(
      (vm) => vm.name_label,
      () => '',
    )
    return { ...restored, backupId: backup.id, nameLabel }
  })
}
