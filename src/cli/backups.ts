import type { Command } from 'commander'
import { InvalidArgumentError } from 'commander'
import type { OpenedRepository } from '../app/open-repository.ts'
import type { CheckReport } from '../repository/check.ts'
import { parseBackupFileName, VM_BACKUPS_DIR } from '../repository/layout.ts'
import type { BackupListing } from '../repository/listing.ts'
import { assertUuid, isUuid } from '../shared/ids.ts'
import { formatBytes } from '../tasks/format.ts'
import type { CliIo } from './io.ts'
import { CliExit } from './io.ts'

// The repository code, its schemas and the remotes (the AWS SDK) are loaded by the action that
// needs them, not at start-up: `xapi-backup vhd info` must not pay for them (issue: start-up).
async function withRepository<T>(url: string, fn: (repository: OpenedRepository) => Promise<T>): Promise<T> {
  const { openRepository } = await import('../app/open-repository.ts')
  const repository = await openRepository(url)
  try {
    return await fn(repository)
  } finally {
    await repository.close()
  }
}

async function vmsOf(repository: OpenedRepository, vm: string | undefined): Promise<string[]> {
  const { listBackupVms } = await import('../repository/listing.ts')
  return vm === undefined ? listBackupVms(repository.remote) : [vm]
}

/** Commander's parser of `--vm`: a bad UUID is a usage error (exit 2), found before any I/O. */
function parseVmOption(value: string): string {
  if (!isUuid(value)) throw new InvalidArgumentError(`expected a VM UUID, got ${JSON.stringify(value)}`)
  return value
}

const noBackups = (repository: OpenedRepository, vm: string | undefined): string =>
  vm === undefined
    ? `no backups in ${repository.remote.description}\n`
    : `no backups of VM ${vm} in ${repository.remote.description}\n`

function describeBackup(backup: BackupListing): string {
  const { metadata } = backup
  const when = new Date(backup.timestampMs).toISOString().replace('.000Z', 'Z')
  const disks =
    metadata.mode === 'full'
      ? 'xva'
      : Object.values(metadata.isVhdDifferencing ?? {})
          .map((differencing) => (differencing ? 'delta' : 'key'))
          .join(',')
  const size = metadata.size === undefined ? '?' : formatBytes(metadata.size)
  const state =
    backup.missingFiles.length === 0 ? '' : `  INCOMPLETE: missing ${backup.missingFiles.length} file(s)`
  return `  ${when}  ${metadata.mode.padEnd(5)}  ${size.padStart(10)}  ${disks}${state}`
}

function renderReport(report: CheckReport): string {
  if (report.findings.length === 0)
    return `${report.vmUuid}: ok (${report.completeBackups.length} complete backups)\n`
  const lines = report.findings.map(
    (f) => `  ${f.kind}: ${f.path}: ${f.message}${f.deletes.length > 0 ? '  [repair deletes]' : ''}`,
  )
  return `${report.vmUuid}: ${report.findings.length} finding(s), ${report.completeBackups.length} complete backups\n${lines.join('\n')}\n`
}

/** The VM uuid and metadata path of a backup id (`xo-vm-backups/<vm>/<ts>.json`); BACKUP_ID_INVALID otherwise. */
export function parseBackupId(id: string): { vmUuid: string; path: string } {
  const match = new RegExp(`^/?${VM_BACKUPS_DIR}/([^/]+)/([^/]+)$`).exec(id)
  const vmUuid = match?.[1]
  if (match === null || vmUuid === undefined || parseBackupFileName(match[2] ?? '')?.kind !== 'metadata') {
    throw new CliExit(
      2,
      `invalid backup id ${JSON.stringify(id)}: expected ${VM_BACKUPS_DIR}/<vm uuid>/<timestamp>.json`,
    )
  }
  return { vmUuid: assertUuid(vmUuid, 'backup id'), path: id.replace(/^\//, '') }
}

function registerList(backups: Command, io: CliIo): void {
  backups
    .command('list')
    .description('list the backups of a repository, oldest first')
    .argument('<url>', 'remote: /absolute/path, file:///path, s3://…, nfs://…, smb://…')
    .option('--vm <uuid>', 'only this VM', parseVmOption)
    .option('--json', 'print the listings as JSON')
    .action(async (url: string, options: { vm?: string; json?: boolean }) => {
      const { listVmBackups } = await import('../repository/listing.ts')
      await withRepository(url, async (repository) => {
        const out: Record<string, unknown> = {}
        let found = 0
        for (const vm of await vmsOf(repository, options.vm)) {
          const { backups: listed, invalid } = await listVmBackups(repository.remote, vm)
          found += listed.length + invalid.length
          if (options.json === true) {
            out[vm] = { backups: listed, invalid }
            continue
          }
          if (listed.length + invalid.length > 0)
            io.out(
              `${vm}: ${listed.length} backup(s)\n${listed.map(describeBackup).join('\n')}${listed.length > 0 ? '\n' : ''}`,
            )
          for (const { path, message } of invalid) io.err(`warning: ${path}: ${message}\n`)
        }
        if (options.json === true) io.out(`${JSON.stringify(out, null, 2)}\n`)
        else if (found === 0) io.out(noBackups(repository, options.vm))
      })
    })
}

function registerCheck(backups: Command, io: CliIo): void {
  backups
    .command('check')
    .description(
      'check backups and chains; --repair deletes what no complete backup needs and finishes interrupted merges',
    )
    .argument('<url>', 'remote: /absolute/path, file:///path, s3://…, nfs://…, smb://…')
    .option('--vm <uuid>', 'only this VM', parseVmOption)
    .option('--repair', 'apply the repairs (default: report only)')
    .option('--json', 'print the reports as JSON')
    .action(async (url: string, options: { vm?: string; repair?: boolean; json?: boolean }) => {
      const { checkVmBackups, repairVmBackups } = await import('../repository/check.ts')
      const { mergeVmBackups } = await import('../repository/merge.ts')
      const { withVmLock } = await import('../repository/vm-lock.ts')
      let problems = 0
      await withRepository(url, async (repository) => {
        const reports: CheckReport[] = []
        const vms = await vmsOf(repository, options.vm)
        if (vms.length === 0 && options.json !== true) io.out(noBackups(repository, undefined))
        for (const vm of vms) {
          const report = await checkVmBackups(repository.remote, vm)
          reports.push(report)
          problems += report.findings.length
          if (options.json !== true) io.out(renderReport(report))
          if (options.repair !== true || report.findings.length === 0) continue
          await withVmLock(repository.remote, vm, async (lock) => {
            if (repository.mergeStore !== undefined)
              await mergeVmBackups(repository.remote, repository.mergeStore, vm, { lock })
            const fresh = await checkVmBackups(repository.remote, vm)
            const { deleted } = await repairVmBackups(repository.remote, fresh)
            if (options.json !== true) io.out(`  repaired: ${deleted.length} file(s) deleted\n`)
          })
        }
        if (options.json === true) io.out(`${JSON.stringify(reports, null, 2)}\n`)
      })
      if (problems > 0 && options.repair !== true) throw new CliExit(1)
    })
}

function registerDelete(backups: Command, io: CliIo): void {
  backups
    .command('delete')
    .description('delete backups by id (xo-vm-backups/<vm>/<timestamp>.json); deltas above are kept readable')
    .argument('<url>', 'remote: /absolute/path, file:///path, s3://…, nfs://…, smb://…')
    .argument('<id...>', 'backup ids, as `backups list --json` gives them')
    .action(async (url: string, ids: string[]) => {
      const { listVmBackups } = await import('../repository/listing.ts')
      const { applyRetention } = await import('../repository/retention-apply.ts')
      const { withVmLock } = await import('../repository/vm-lock.ts')
      const byVm = new Map<string, string[]>()
      for (const id of ids) {
        const { vmUuid, path } = parseBackupId(id)
        byVm.set(vmUuid, [...(byVm.get(vmUuid) ?? []), path])
      }
      await withRepository(url, async (repository) => {
        for (const [vm, paths] of byVm) {
          await withVmLock(repository.remote, vm, async (lock) => {
            const { backups: listed } = await listVmBackups(repository.remote, vm, { useCache: false })
            const expired = listed.filter((b) => paths.includes(b.id))
            const unknown = paths.filter((p) => !expired.some((b) => b.id === p))
            if (unknown.length > 0) throw new CliExit(1, `no such backup: ${unknown.join(', ')}`)
            const result = await applyRetention(repository.remote, vm, expired, {
              ...(repository.mergeStore === undefined ? {} : { store: repository.mergeStore }),
              lock,
            })
            io.out(
              `${vm}: deleted ${result.deletedBackups.length} backup(s), ${result.merge?.merges.length ?? 0} merge(s), ${result.deletedFiles.length} unused disk(s) removed\n`,
            )
            if (result.orphansKept !== undefined) io.err(`warning: ${vm}: ${result.orphansKept}\n`)
          })
        }
      })
    })
}

/** Registers `backups list|check|delete`: the repository of a remote as users see it. */
export function registerBackupsCommands(program: Command, io: CliIo): void {
  const backups = program.command('backups').description('list, check, repair and delete backups on a remote')
  registerList(backups, io)
  registerCheck(backups, io)
  registerDelete(backups, io)
}
