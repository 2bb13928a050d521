// The job form's fields: general, targets, VMs, settings. State lives in the page (job-page.tsx);
// the field an error names is marked invalid here.
import { formatBytes } from '../format.ts'
import type { FormField, JobForm } from '../job-form.ts'
import type { PoolRecord, PoolSr, PoolVm, RemoteRecord } from '../types.ts'
import { invalidAttrs } from '../ui/fields.tsx'
import { Card } from '../ui/page.tsx'
import type { PickItem } from './pick-list.tsx'
import { PickList } from './pick-list.tsx'
import { SettingsCard } from './job-settings.tsx'

/** Props of JobEditor. */
export interface JobEditorProps {
  readonly form: JobForm
  readonly onChange: (form: JobForm) => void
  readonly invalid: FormField | undefined
  readonly remotes: readonly RemoteRecord[]
  readonly pools: readonly PoolRecord[]
}

const vmItem = (raw: unknown): PickItem => {
  const vm = raw as PoolVm
  const tags = vm.tags.length === 0 ? '' : ` · ${vm.tags.join(', ')}`
  return { id: vm.uuid, label: vm.name, detail: `${vm.powerState}${tags}` }
}

const srItem = (raw: unknown): PickItem => {
  const sr = raw as PoolSr
  return {
    id: sr.uuid,
    label: sr.name,
    detail: `${sr.type} · ${formatBytes(Math.max(0, sr.sizeBytes - sr.usedBytes))} free of ${formatBytes(sr.sizeBytes)}`,
  }
}

function General({ form, onChange, invalid }: JobEditorProps) {
  return (
    <Card title="General">
      <div class="grid-2">
        <label class="field">
          <span>Name</span>
          <input
            type="text"
            name="name"
            value={form.name}
            required
            data-testid="job-name"
            onInput={(e) => {
              onChange({ ...form, name: e.currentTarget.value })
            }}
            {...invalidAttrs(invalid === 'name')}
          />
        </label>
        <label class="field">
          <span>Mode</span>
          <select
            name="mode"
            value={form.mode}
            data-testid="job-mode"
            onChange={(e) => {
              onChange({ ...form, mode: e.currentTarget.value === 'full' ? 'full' : 'delta' })
            }}
            {...invalidAttrs(invalid === 'mode')}
          >
            <option value="delta">Delta (incremental)</option>
            <option value="full">Full (whole VM, XVA)</option>
          </select>
        </label>
        {form.mode === 'full' ? (
          <label class="field">
            <span>Compression</span>
            <select
              name="compression"
              value={form.compression}
              data-testid="job-compression"
              onChange={(e) => {
                onChange({ ...form, compression: e.currentTarget.value })
              }}
              {...invalidAttrs(invalid === 'compression')}
            >
              <option value="">none</option>
              <option value="native">native (gzip, by XAPI)</option>
              <option value="zstd">zstd</option>
            </select>
          </label>
        ) : null}
      </div>
    </Card>
  )
}

function RemoteChecks({ form, onChange, invalid, remotes }: JobEditorProps) {
  const chosen = new Set(form.remotes)
  const toggle = (id: string): void => {
    onChange({
      ...form,
      remotes: chosen.has(id) ? form.remotes.filter((x) => x !== id) : [...form.remotes, id],
    })
  }
  const unknown = form.remotes.filter((id) => !remotes.some((r) => r.id === id))
  return (
    <fieldset
      class={invalid === 'remotes' ? 'fieldset invalid' : 'fieldset'}
      data-invalid={invalid === 'remotes' ? 'true' : undefined}
    >
      <legend>Remotes (backup repositories)</legend>
      {remotes.length === 0 ? <p class="muted">No remote yet: add one under Remotes.</p> : null}
      <div class="check-grid">
        {remotes.map((remote) => (
          <label key={remote.id} class="check">
            <input
              type="checkbox"
              checked={chosen.has(remote.id)}
              data-testid="job-remote"
              data-remote-id={remote.id}
              onChange={() => {
                toggle(remote.id)
              }}
            />
            <span>
              {remote.name} <span class="muted small break">{remote.url}</span>
            </span>
          </label>
        ))}
      </div>
      {unknown.map((id) => (
        <p key={id} class="warn small">
          Unknown remote {id} (deleted?) —{' '}
          <button
            type="button"
            class="link-button"
            onClick={() => {
              toggle(id)
            }}
          >
            remove it
          </button>
        </p>
      ))}
    </fieldset>
  )
}

function Targets(props: JobEditorProps) {
  const { form, onChange, invalid } = props
  return (
    <Card title="Targets">
      <RemoteChecks {...props} />
      <fieldset class="fieldset" data-invalid={invalid === 'srs' ? 'true' : undefined}>
        <legend>SRs (replication: disaster recovery / continuous replication)</legend>
        <PickList
          kind="sr"
          route="srs"
          pools={props.pools}
          toItem={srItem}
          selected={form.srs}
          invalid={invalid === 'srs'}
          onChange={(srs) => {
            onChange({ ...form, srs })
          }}
        />
      </fieldset>
    </Card>
  )
}

function Vms(props: JobEditorProps) {
  const { form, onChange, invalid } = props
  const radio = (mode: 'ids' | 'smart', label: string) => (
    <label class="check">
      <input
        type="radio"
        name="vms-mode"
        checked={form.vmsMode === mode}
        data-testid={`job-vms-mode-${mode}`}
        onChange={() => {
          onChange({ ...form, vmsMode: mode })
        }}
      />
      <span>{label}</span>
    </label>
  )
  return (
    <Card title="VMs" testId="job-vms">
      <div class="radio-row">
        {radio('ids', 'Pick VMs')}
        {radio('smart', 'Smart pattern (JSON)')}
      </div>
      {form.vmsMode === 'ids' ? (
        <PickList
          kind="vm"
          route="vms"
          pools={props.pools}
          toItem={vmItem}
          selected={form.vmIds}
          invalid={invalid === 'vms'}
          onChange={(vmIds) => {
            onChange({ ...form, vmIds })
          }}
        />
      ) : (
        <label class="field">
          <span>
            Pattern over <code>power_state</code>, <code>tags</code>, <code>$pool</code>,{' '}
            <code>name_label</code>, <code>name_description</code>
          </span>
          <textarea
            rows={5}
            spellcheck={false}
            class={invalid === 'vms' ? 'code invalid' : 'code'}
            aria-invalid={invalid === 'vms' ? true : undefined}
            data-invalid={invalid === 'vms' ? 'true' : undefined}
            placeholder={'{"power_state": "Running", "tags": ["prod"]}'}
            value={form.smartJson}
            data-testid="job-vms-smart"
            onInput={(e) => {
              onChange({ ...form, smartJson: e.currentTarget.value })
            }}
          />
        </label>
      )}
    </Card>
  )
}

/** The job form (no buttons: the page owns Save, Run now and Delete). */
export function JobEditor(props: JobEditorProps) {
  return (
    <>
      <General {...props} />
      <Targets {...props} />
      <Vms {...props} />
      <SettingsCard {...props} />
    </>
  )
}
