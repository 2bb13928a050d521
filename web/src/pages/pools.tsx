// `/pools`: XAPI connections (pool masters) — list, add, test the login, delete. The password is
// sent once and never shown again (the API never returns it).
import { useState } from 'preact/hooks'
import { api } from '../api.ts'
import { useAction } from '../hooks.ts'
import { usePools } from '../lookups.ts'
import type { PoolRecord } from '../types.ts'
import { CheckField, FormCard, TextField } from '../ui/fields.tsx'
import { Card, Empty, ErrorBox, Loading, PageHeader } from '../ui/page.tsx'
import type { TestOutcome } from '../ui/record-row.tsx'
import { RecordRow } from '../ui/record-row.tsx'
import { toast } from '../ui/toast.tsx'
import { messageOf } from './remotes.tsx'

interface PoolTest {
  readonly ok: boolean
  readonly poolName?: string
  readonly hosts?: unknown
  readonly error?: unknown
}

/** What a pool test answer says, as one line. */
export function poolTestOutcome(answer: PoolTest): TestOutcome {
  if (!answer.ok)
    return { ok: false, lines: [`login failed: ${messageOf(answer.error ?? 'no reason given')}`] }
  const hosts = Array.isArray(answer.hosts)
    ? answer.hosts.length
    : typeof answer.hosts === 'number'
      ? answer.hosts
      : undefined
  const count = hosts === undefined ? '' : ` (${hosts} host${hosts === 1 ? '' : 's'})`
  return { ok: true, lines: [`connected to ${answer.poolName ?? 'the pool'}${count}`] }
}

function PoolRow({ pool, onDeleted }: { readonly pool: PoolRecord; readonly onDeleted: () => void }) {
  const path = `/pools/${encodeURIComponent(pool.id)}`
  return (
    <RecordRow
      kind="pool"
      id={pool.id}
      title={pool.name}
      detail={
        <span class="muted small break">
          {pool.username} @ {pool.url}
          {pool.allowUnauthorized ? <span class="tag tag-warn">certificate not checked</span> : null}
        </span>
      }
      test={async () => poolTestOutcome(await api<PoolTest>('POST', `${path}/test`))}
      deleteTitle="Delete this pool?"
      deleteMessage={`The server forgets “${pool.name}” and its password. Jobs backing up its VMs fail until it is added again.`}
      onDelete={async () => {
        await api('DELETE', path)
        toast(`Pool “${pool.name}” deleted`)
        onDeleted()
      }}
    />
  )
}

const EMPTY = { name: '', url: '', username: 'root', password: '' }

type PoolFields = typeof EMPTY

function PoolInputs({
  fields,
  set,
}: {
  readonly fields: PoolFields
  readonly set: (key: keyof PoolFields) => (value: string) => void
}) {
  return (
    <div class="grid-2">
      <TextField
        label="Name"
        value={fields.name}
        onValue={set('name')}
        testId="pool-name"
        placeholder="production"
        required
      />
      <TextField
        label="Pool master URL"
        type="url"
        value={fields.url}
        onValue={set('url')}
        testId="pool-url"
        placeholder="https://xcp-master.example"
        required
      />
      <TextField
        label="Username"
        value={fields.username}
        onValue={set('username')}
        testId="pool-username"
        autocomplete="off"
        required
      />
      <TextField
        label="Password"
        type="password"
        value={fields.password}
        onValue={set('password')}
        testId="pool-password"
        autocomplete="new-password"
        required
      />
    </div>
  )
}

function AddPool({ onAdded }: { readonly onAdded: () => void }) {
  const [fields, setFields] = useState(EMPTY)
  const [insecure, setInsecure] = useState(false)
  const set = (key: keyof PoolFields) => (value: string) => {
    setFields({ ...fields, [key]: value })
  }
  const add = useAction(async () => {
    const body = { ...fields, name: fields.name.trim(), url: fields.url.trim(), allowUnauthorized: insecure }
    await api<PoolRecord>('POST', '/pools', body)
    toast(`Pool “${body.name}” added`)
    setFields(EMPTY)
    setInsecure(false)
    onAdded()
  })
  return (
    <FormCard
      title="Add a pool"
      testId="pool-form"
      onSubmit={() => void add.run()}
      busy={add.busy}
      error={add.error}
      submitLabel="Add pool"
      submitTestId="pool-add"
      errorTestId="pool-error"
    >
      <PoolInputs fields={fields} set={set} />
      <CheckField
        label="Accept a self-signed certificate"
        checked={insecure}
        onChecked={setInsecure}
        testId="pool-allow-unauthorized"
      />
      {insecure ? (
        <p class="notice warn-box small" data-testid="pool-insecure-warning">
          The server will not check the pool's TLS certificate: anyone on the network path could pose as the
          pool and read the password. Prefer a certificate the server trusts.
        </p>
      ) : null}
    </FormCard>
  )
}

/** `/pools`. */
export function PoolsPage() {
  const pools = usePools()
  return (
    <>
      <PageHeader title="Pools" subtitle="The XAPI pools whose VMs are backed up and restored." />
      {pools.error === undefined ? null : <ErrorBox error={pools.error} onRetry={pools.reload} />}
      {pools.data === undefined ? (
        pools.error === undefined ? (
          <Loading />
        ) : null
      ) : pools.data.items.length === 0 ? (
        <Empty>No pool yet: add the first one below.</Empty>
      ) : (
        <Card>
          <ul class="records">
            {pools.data.items.map((pool) => (
              <PoolRow key={pool.id} pool={pool} onDeleted={pools.reload} />
            ))}
          </ul>
        </Card>
      )}
      <AddPool onAdded={pools.reload} />
    </>
  )
}
