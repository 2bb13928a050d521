// What a new user reads first: `npm start` / `xapi-backup` without arguments, and the end of
// `--help`. Only commands that exist are shown; each example runs as written.
import { existsSync } from 'node:fs'
import { relative } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The exit-code table, shown by `--help` and in the README. */
export const EXIT_CODES_TEXT = `Exit codes:
  0  success
  1  failure, or findings (a check found problems, a remote test failed)
  2  usage error (unknown command or option, bad argument, malformed remote URL)`

const REMOTES_TEXT = `Remotes:
  /srv/backups or file:///srv/backups        a local folder (an absolute path)
  s3://KEY:SECRET@host/bucket/dir            S3 over HTTPS (s3+http:// for plain HTTP)
  nfs://host:/export/dir                     NFS, mounted for you (root, nfs-common)
  smb://user:password@DOMAIN\\\\host\\share    SMB, mounted for you (root, cifs-utils)`

/** Examples, remote forms and exit codes appended to the top-level `--help`. */
export function helpAfterText(): string {
  return `
Examples:
  xapi-backup demo                           the whole product in a minute against the simulator
  xapi-backup run job.yaml --log run.jsonl   run a backup job from a run description
  xapi-backup run job.yaml --explain         each VM's effective settings and where they come from
  xapi-backup restore <remote> <backup-id> --xapi https://pool --user root --sr <uuid>
                                             restore a backup as a new VM (password: XAPI_PASSWORD)
  xapi-backup health-check <remote> <backup-id> --xapi … --user … --sr <uuid>
                                             restore, boot, wait for the guest tools, destroy
  xapi-backup simulator                      run a simulated XAPI pool (prints url, user, password)
  xapi-backup vhd info disk.vhd              footer, header and block table of a VHD file
  xapi-backup backups list /srv/backups      the backups in a folder, oldest first
  xapi-backup remote test /srv/backups       check that a remote works, and how fast

${REMOTES_TEXT}

${EXIT_CODES_TEXT}

Next: xapi-backup <command> --help shows the options of a command.
`
}

// The VHD the repository ships, so the example runs as written in a checkout.
function sampleVhd(): string {
  for (const up of ['../../', '../../../']) {
    const path = fileURLToPath(new URL(`${up}test/fixtures/vhd/qemu-empty-100M.vhd`, import.meta.url))
    if (existsSync(path)) return relative(process.cwd(), path) || path
  }
  return 'disk.vhd'
}

/** The text of `xapi-backup` without arguments (what `npm start` shows). */
export function welcomeText(version: string): string {
  return `xapi-backup ${version}: backup, replication and restore for Xen pools over XAPI

Try it without a pool:
  See everything at once (simulator, delta and full backups, check, restore; what npm start runs):
    npx xapi-backup demo
  Start a simulated XAPI pool (it prints the url, user and password to connect with):
    npx xapi-backup simulator
  Inspect a VHD file:
    npx xapi-backup vhd info ${sampleVhd()}
  List the backups in a folder (remotes can also be s3://, nfs://, smb://):
    npx xapi-backup backups list /srv/backups
  Check that a remote works, and how fast:
    npx xapi-backup remote test /srv/backups

Next: npx xapi-backup --help lists every command, the remote forms and the exit codes.
`
}
