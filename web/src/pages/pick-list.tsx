// Picking uuids from a pool (VMs, SRs): choose the pool, filter, tick; uuids picked elsewhere (or
// typed) stay listed as chips so a job spanning pools is never silently narrowed.
import { useRef, useState } from 'preact/hooks'
import { api } from '../api.ts'
import { shortId } from '../format.ts'
import { useResource } from '../hooks.ts'
import type { ListOf, PoolRecord } from '../types.ts'
import { ErrorBox } from '../ui/page.tsx'

/** One pickable thing of a pool. */
export interface PickItem {
  readonly id: string
  readonly label: string
  readonly detail: string
}

/** Props of PickList. */
export interface PickListProps {
  /** `vm` or `sr`: names the test ids (`job-vm-pool`, `job-vm`, …). */
  readonly kind: 'vm' | 'sr'
  readonly pools: readonly PoolRecord[]
  /** The pool route listing the items (`vms`, `srs`) and how to show one. */
  readonly route: 'vms' | 'srs'
  readonly toItem: (raw: unknown) => PickItem
  readonly selected: readonly string[]
  readonly onChange: (ids: readonly string[]) => void
  readonly invalid?: boolean
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

function Chips(props: {
  readonly ids: readonly string[]
  readonly names: ReadonlyMap<string, string>
  readonly onRemove: (id: string) => void
}) {
  if (props.ids.length === 0) return null
  return (
    <ul class="chips" aria-label="Selected">
      {props.ids.map((id) => (
        <li key={id} class="chip" title={id}>
          {props.names.get(id) ?? shortId(id)}
          <button
            type="button"
            aria-label={`Remove ${id}`}
            onClick={() => {
              props.onRemove(id)
            }}
          >
            ×
          </button>
        </li>
      ))}
    </ul>
  )
}

function AddUuid({ kind, onAdd }: { readonly kind: string; readonly onAdd: (id: string) => void }) {
  const [text, setText] = useState('')
  const valid = UUID.test(text.trim())
  const add = (): void => {
    if (!valid) return
    onAdd(text.trim().toLowerCase())
    setText('')
  }
  return (
    <div class="inline-form">
      <input
        type="text"
        placeholder="or paste a uuid"
        value={text}
        spellcheck={false}
        data-testid={`job-${kind}-uuid`}
        onInput={(e) => {
          setText(e.currentTarget.value)
        }}
        onKeyDown={(e) => {
          if (e.key === 'Enter') {
            e.preventDefault()
            add()
          }
        }}
      />
      <button
        type="button"
        class="button"
        disabled={!valid}
        onClick={add}
        data-testid={`job-${kind}-uuid-add`}
      >
        Add
      </button>
    </div>
  )
}

function PickBar(props: {
  readonly kind: string
  readonly pools: readonly PoolRecord[]
  readonly poolId: string
  readonly onPool: (id: string) => void
  readonly filter: string
  readonly onFilter: (text: string) => void
}) {
  return (
    <div class="picker-bar">
      <select
        value={props.poolId}
        aria-label="Pool"
        data-testid={`job-${props.kind}-pool`}
        onChange={(e) => {
          props.onPool(e.currentTarget.value)
        }}
      >
        {props.pools.length === 0 ? <option value="">no pool: add one under Pools</option> : null}
        {props.pools.map((pool) => (
          <option key={pool.id} value={pool.id}>
            {pool.name}
          </option>
        ))}
      </select>
      <input
        type="search"
        placeholder="Filter"
        value={props.filter}
        aria-label="Filter"
        data-testid={`job-${props.kind}-filter`}
        onInput={(e) => {
          props.onFilter(e.currentTarget.value)
        }}
      />
    </div>
  )
}

function Checklist(props: {
  readonly kind: string
  readonly items: readonly PickItem[]
  readonly loading: boolean
  readonly selected: ReadonlySet<string>
  readonly onToggle: (id: string) => void
}) {
  return (
    <ul class="checklist" aria-busy={props.loading}>
      {props.items.map((item) => (
        <li key={item.id}>
          <label>
            <input
              type="checkbox"
              checked={props.selected.has(item.id)}
              data-testid={`job-${props.kind}`}
              data-uuid={item.id}
              onChange={() => {
                props.onToggle(item.id)
              }}
            />
            <span class="check-label">{item.label}</span>
            <span class="check-detail">{item.detail}</span>
          </label>
        </li>
      ))}
      {!props.loading && props.items.length === 0 ? <li class="muted">nothing to show</li> : null}
    </ul>
  )
}

/** A pool picker, a filtered checklist of its items, and the selected uuids as chips. */
export function PickList(props: PickListProps) {
  const [chosenPool, setPoolId] = useState('')
  // Pools load after the form mounts: until one is chosen, show the first.
  const poolId = chosenPool === '' ? (props.pools[0]?.id ?? '') : chosenPool
  const [filter, setFilter] = useState('')
  // Names seen in every pool shown so far, so chips of another pool keep their names.
  const seen = useRef(new Map<string, string>()).current
  const path = `/pools/${encodeURIComponent(poolId)}/${props.route}`
  const items = useResource(
    (signal) =>
      poolId === ''
        ? Promise.resolve([])
        : api<ListOf<unknown>>('GET', path, undefined, signal).then((list) => list.items.map(props.toItem)),
    [path],
  )
  for (const item of items.data ?? []) seen.set(item.id, item.label)
  const selected = new Set(props.selected)
  const toggle = (id: string): void => {
    props.onChange(selected.has(id) ? props.selected.filter((x) => x !== id) : [...props.selected, id])
  }
  const needle = filter.trim().toLowerCase()
  const shown = (items.data ?? []).filter((item) =>
    `${item.label} ${item.detail} ${item.id}`.toLowerCase().includes(needle),
  )
  return (
    <div class={props.invalid === true ? 'picker invalid' : 'picker'}>
      <PickBar
        kind={props.kind}
        pools={props.pools}
        poolId={poolId}
        onPool={setPoolId}
        filter={filter}
        onFilter={setFilter}
      />
      {items.error === undefined ? null : <ErrorBox error={items.error} onRetry={items.reload} />}
      <Checklist
        kind={props.kind}
        items={shown}
        loading={items.loading}
        selected={selected}
        onToggle={toggle}
      />
      <p class="muted small">{props.selected.length} selected</p>
      <Chips ids={props.selected} names={seen} onRemove={toggle} />
      <AddUuid
        kind={props.kind}
        onAdd={(id) => {
          if (!selected.has(id)) props.onChange([...props.selected, id])
        }}
      />
    </div>
  )
}
