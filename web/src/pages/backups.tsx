// `/backups`: pick a remote, see its backups per VM (newest first), restore or health-check one.
// The remote is in the URL (`?remote=<id>`) so the dashboard can link to it.
import { useState } from 'preact/hooks'
import { api } from '../api.ts'
import { formatBytes, formatDateTime, formatRelative, plural, shortId } from '../format.ts'
import { useNow, useResource } from '../hooks.ts'
import { jobNames, useJobs, useRemotes } from '../lookups.ts'
import { Link, navigate, useLocation } from '../router.tsx'
import type { BackupItem, ListOf } from '../types.ts'
import { Card, Empty, ErrorBox, Loading, PageHeader } from '../ui/page.tsx'
import type { TargetDialogProps } from './target-dialog.tsx'
import { TargetDialog } from './target-dialog.tsx'

interface VmGroup {
  readonly uuid: string
  readonly name: string
  readonly backups: readonly BackupItem[]
}

/** Backups grouped by VM, VMs by name, each VM's backups newest first. */
export function groupByVm(items: readonly BackupItem[]): VmGroup[] {
  const groups = new Map<string, BackupItem[]>()
  for (const item of items) {
    const list = groups.get(item.vmUuid) ?? []
    list.push(item)
    groups.set(item.vmUuid, list)
  }
  return [...groups]
    .map(([uuid, backups]) => ({
      uuid,
      name: backups[0]?.vmName ?? uuid,
      backups: backups.sort((a, b) => b.timestamp - a.timestamp),
    }))
    .sort((a, b) => a.name.localeCompare(b.name))
}

type Action = Omit<TargetDialogProps, 'onClose'>

function BackupRow(props: {
  readonly backup: BackupItem
  readonly now: number
  readonly jobs: ReadonlyMap<string, string>
  readonly onAction: (action: Action['action']) => void
}) {
  const { backup, now } = props
  return (
    <li class="backup" data-testid="backup-row" data-backup-id={backup.id}>
      <div class="backup-main">
        <span title={formatRelative(backup.timestamp, now)}>{formatDateTime(backup.timestamp, now)}</span>
        <span class="tag">{backup.mode}</span>
        {backup.complete ? null : (
          <span class="tag tag-bad" title="Some of its files are missing or unfinished">
            incomplete
          </span>
        )}
      </div>
      <div class="backup-facts muted small">
        {formatBytes(backup.sizeBytes)} ·{' '}
        {/* Backups written by this engine carry no job name (XO's metadata has none): the job list has it. */}
        {backup.jobName !== ''
          ? backup.jobName
          : (props.jobs.get(backup.jobId) ?? `job ${shortId(backup.jobId)}`)}
      </div>
      <div class="row-actions">
        <button
          type="button"
          class="button small"
          data-testid="restore-button"
          onClick={() => {
            props.onAction('restore')
          }}
        >
          Restore
        </button>
        <button
          type="button"
          class="button small"
          data-testid="health-check-button"
          onClick={() => {
            props.onAction('health-check')
          }}
        >
          Health check
        </button>
      </div>
    </li>
  )
}

// The newest backups of a VM are the ones restored; older ones are a click away.
const SHOWN = 3

function VmCard(props: {
  readonly group: VmGroup
  readonly now: number
  readonly jobs: ReadonlyMap<string, string>
  readonly onAction: (action: Action['action'], backup: BackupItem) => void
}) {
  const { group } = props
  const [all, setAll] = useState(false)
  const shown = all ? group.backups : group.backups.slice(0, SHOWN)
  const hidden = group.backups.length - shown.length
  return (
    <Card
      title={group.name}
      testId="backup-vm"
      actions={
        <span class="muted small" title={group.uuid}>
          {shortId(group.uuid)} · {plural(group.backups.length, 'backup')}
        </span>
      }
    >
      <ul class="backups">
        {shown.map((backup) => (
          <BackupRow
            key={backup.id}
            backup={backup}
            now={props.now}
            jobs={props.jobs}
            onAction={(kind) => {
              props.onAction(kind, backup)
            }}
          />
        ))}
      </ul>
      {hidden > 0 ? (
        <button
          type="button"
          class="link-button small"
          data-testid="backups-more"
          onClick={() => {
            setAll(true)
          }}
        >
          Show {hidden} older
        </button>
      ) : null}
    </Card>
  )
}

function BackupList({ remoteId }: { readonly remoteId: string }) {
  const backups = useResource(
    (signal) =>
      api<ListOf<BackupItem>>('GET', `/remotes/${encodeURIComponent(remoteId)}/backups`, undefined, signal),
    [remoteId],
  )
  const [filter, setFilter] = useState('')
  const [action, setAction] = useState<Action | undefined>(undefined)
  const now = useNow(60_000)
  const jobs = jobNames(useJobs().data)
  if (backups.error !== undefined) return <ErrorBox error={backups.error} onRetry={backups.reload} />
  if (backups.data === undefined) return <Loading what="Listing the remote" />
  const needle = filter.trim().toLowerCase()
  const groups = groupByVm(backups.data.items).filter(
    (g) => needle === '' || `${g.name} ${g.uuid}`.toLowerCase().includes(needle),
  )
  return (
    <>
      <div class="filter-bar">
        <input
          type="search"
          placeholder="Filter VMs"
          value={filter}
          aria-label="Filter VMs"
          data-testid="backups-filter"
          onInput={(e) => {
            setFilter(e.currentTarget.value)
          }}
        />
        <span class="muted small">{plural(backups.data.items.length, 'backup')}</span>
      </div>
      {groups.length === 0 ? <Empty>No backup here{needle === '' ? ' yet' : ' matches'}.</Empty> : null}
      {groups.map((group) => (
        <VmCard
          key={group.uuid}
          group={group}
          now={now}
          jobs={jobs}
          onAction={(kind, backup) => {
            setAction({ action: kind, remoteId, backup })
          }}
        />
      ))}
      {action === undefined ? null : (
        <TargetDialog
          {...action}
          onClose={() => {
            setAction(undefined)
          }}
        />
      )}
    </>
  )
}

/** `/backups`. */
export function BackupsPage() {
  const { search } = useLocation()
  const remotes = useRemotes()
  const items = remotes.data?.items ?? []
  const remoteId = search.get('remote') ?? items[0]?.id ?? ''
  return (
    <>
      <PageHeader title="Backups" subtitle="Restore a VM or check that a backup boots.">
        <label class="inline-label" for="backups-remote">
          Remote
        </label>
        <select
          id="backups-remote"
          value={remoteId}
          data-testid="backups-remote"
          onChange={(e) => {
            navigate(`/backups?remote=${encodeURIComponent(e.currentTarget.value)}`, { replace: true })
          }}
        >
          {items.map((remote) => (
            <option key={remote.id} value={remote.id}>
              {remote.name}
            </option>
          ))}
        </select>
      </PageHeader>
      {remotes.error === undefined ? null : <ErrorBox error={remotes.error} onRetry={remotes.reload} />}
      {remotes.data === undefined ? (
        remotes.error === undefined ? (
          <Loading />
        ) : null
      ) : items.length === 0 ? (
        <Empty>
          No remote yet. <Link href="/remotes">Add one</Link> and run a job.
        </Empty>
      ) : (
        <BackupList key={remoteId} remoteId={remoteId} />
      )}
    </>
  )
}
