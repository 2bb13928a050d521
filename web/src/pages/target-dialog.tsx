// Restore or health-check one backup: pick the pool and SR, start it, go to its run page.
import { useState } from 'preact/hooks'
import { api } from '../api.ts'
import { now } from '../clock.ts'
import { formatBytes, formatDateTime } from '../format.ts'
import { useAction, useResource } from '../hooks.ts'
import { usePools } from '../lookups.ts'
import { navigate } from '../router.tsx'
import type { BackupItem, ListOf, PoolRecord, PoolSr, RunRecord } from '../types.ts'
import { Dialog } from '../ui/dialog.tsx'
import { CheckField, FormError, TextField } from '../ui/fields.tsx'
import { ErrorBox } from '../ui/page.tsx'

/** Props of TargetDialog. */
export interface TargetDialogProps {
  readonly action: 'restore' | 'health-check'
  readonly remoteId: string
  readonly backup: BackupItem
  readonly onClose: () => void
}

function PoolSelect(props: {
  readonly pools: readonly PoolRecord[]
  readonly loading: boolean
  readonly value: string
  readonly onChange: (id: string) => void
}) {
  return (
    <label class="field">
      <span>Pool</span>
      <select
        value={props.value}
        required
        data-testid="restore-pool"
        onChange={(e) => {
          props.onChange(e.currentTarget.value)
        }}
      >
        {props.pools.length === 0 ? (
          <option value="">{props.loading ? 'loading…' : 'no pool: add one under Pools'}</option>
        ) : null}
        {props.pools.map((pool) => (
          <option key={pool.id} value={pool.id}>
            {pool.name}
          </option>
        ))}
      </select>
    </label>
  )
}

function SrSelect(props: {
  readonly poolId: string
  readonly value: string
  readonly onChange: (id: string) => void
}) {
  const srs = useResource(
    (signal) =>
      props.poolId === ''
        ? Promise.resolve<ListOf<PoolSr>>({ items: [] })
        : api<ListOf<PoolSr>>('GET', `/pools/${encodeURIComponent(props.poolId)}/srs`, undefined, signal),
    [props.poolId],
  )
  const items = srs.data?.items ?? []
  return (
    <label class="field">
      <span>SR</span>
      <select
        value={props.value}
        required
        data-testid="restore-sr"
        onChange={(e) => {
          props.onChange(e.currentTarget.value)
        }}
      >
        <option value="">{srs.loading ? 'loading…' : items.length === 0 ? 'no SR' : 'choose an SR'}</option>
        {items.map((sr) => (
          <option key={sr.uuid} value={sr.uuid}>
            {sr.name} ({sr.type}, {formatBytes(Math.max(0, sr.sizeBytes - sr.usedBytes))} free)
          </option>
        ))}
      </select>
      {srs.error === undefined ? null : <ErrorBox error={srs.error} onRetry={srs.reload} />}
    </label>
  )
}

const EXPLAIN = {
  restore: 'Creates a new VM on the chosen SR; the original VM is left untouched.',
  'health-check':
    'Restores the backup on the SR, boots it without network until its guest tools answer, then destroys it.',
} as const

function useStart(
  props: TargetDialogProps,
  target: { poolId: string; srId: string; newMacs: boolean; timeoutMin: string },
) {
  return useAction(async () => {
    const base = {
      remoteId: props.remoteId,
      backupId: props.backup.id,
      poolId: target.poolId,
      srId: target.srId,
    }
    const minutes = Number(target.timeoutMin)
    const body =
      props.action === 'restore'
        ? { ...base, newMacAddresses: target.newMacs }
        : { ...base, ...(minutes > 0 ? { timeoutMs: Math.round(minutes * 60_000) } : {}) }
    const { run } = await api<{ run: RunRecord }>(
      'POST',
      props.action === 'restore' ? '/restore' : '/health-check',
      body,
    )
    navigate(`/runs/${run.id}`)
  })
}

function DialogFoot(props: {
  readonly action: TargetDialogProps['action']
  readonly busy: boolean
  readonly ready: boolean
  readonly onClose: () => void
}) {
  return (
    <footer class="dialog-foot">
      <button type="button" class="button" onClick={props.onClose}>
        Cancel
      </button>
      <button
        type="submit"
        class="button primary"
        disabled={props.busy || !props.ready}
        data-testid="restore-submit"
      >
        {props.busy ? 'Starting…' : props.action === 'restore' ? 'Restore' : 'Start health check'}
      </button>
    </footer>
  )
}

/** The dialog; on success it navigates to the new run. */
export function TargetDialog(props: TargetDialogProps) {
  const { action, backup, onClose } = props
  const pools = usePools()
  const [chosenPool, setPoolId] = useState('')
  const [srId, setSrId] = useState('')
  const [newMacs, setNewMacs] = useState(false)
  const [timeoutMin, setTimeoutMin] = useState('10')
  const poolList = pools.data?.items ?? []
  const poolId = chosenPool === '' ? (poolList[0]?.id ?? '') : chosenPool
  const start = useStart(props, { poolId, srId, newMacs, timeoutMin })
  return (
    <Dialog
      title={action === 'restore' ? 'Restore backup' : 'Health check'}
      onClose={onClose}
      testId="restore-dialog"
    >
      <form
        onSubmit={(e) => {
          e.preventDefault()
          void start.run()
        }}
      >
        <div class="dialog-body">
          <p>
            <strong>{backup.vmName}</strong> from {formatDateTime(backup.timestamp, now())} ({backup.mode},{' '}
            {formatBytes(backup.sizeBytes)})
          </p>
          <p class="muted small">{EXPLAIN[action]}</p>
          <PoolSelect
            pools={poolList}
            loading={pools.loading}
            value={poolId}
            onChange={(id) => {
              setPoolId(id)
              setSrId('')
            }}
          />
          <SrSelect poolId={poolId} value={srId} onChange={setSrId} />
          {action === 'restore' ? (
            <CheckField
              label="New MAC addresses (when the original VM still runs on the same network)"
              checked={newMacs}
              onChecked={setNewMacs}
              testId="restore-new-macs"
            />
          ) : (
            <TextField
              label="Timeout (minutes)"
              type="number"
              min="1"
              value={timeoutMin}
              onValue={setTimeoutMin}
              testId="restore-timeout"
            />
          )}
          <FormError error={start.error} testId="restore-error" />
        </div>
        <DialogFoot
          action={action}
          busy={start.busy}
          ready={srId !== '' && poolId !== ''}
          onClose={onClose}
        />
      </form>
    </Dialog>
  )
}
