// The job form's settings card: the common job-wide settings as fields, the rest as JSON.
import type { TargetedEvent } from 'preact'
import type { CommonSetting, FormField, JobForm } from '../job-form.ts'
import { invalidAttrs } from '../ui/fields.tsx'
import { Card } from '../ui/page.tsx'

/** Props of SettingsCard: the part of the job form it edits. */
export interface SettingsCardProps {
  readonly form: JobForm
  readonly onChange: (form: JobForm) => void
  readonly invalid: FormField | undefined
}

const SETTING_FIELDS: readonly (readonly [CommonSetting, string, string])[] = [
  ['exportRetention', 'Backups kept per remote', 'exportRetention'],
  ['copyRetention', 'Replicas kept per SR', 'copyRetention'],
  ['snapshotRetention', 'Snapshots kept on the pool', 'snapshotRetention'],
  ['concurrency', 'VMs at once', 'concurrency (default 2)'],
  ['timeout', 'Job timeout', "timeout: ms or '2h' (0: none)"],
]

function SettingInput(
  props: { readonly name: CommonSetting; readonly label: string; readonly hint: string } & SettingsCardProps,
) {
  const { form, onChange, invalid, name } = props
  const onInput = (e: TargetedEvent<HTMLInputElement>): void => {
    onChange({ ...form, common: { ...form.common, [name]: e.currentTarget.value } })
  }
  return (
    <label class="field">
      <span>{props.label}</span>
      <input
        type="text"
        inputMode={name === 'timeout' ? 'text' : 'numeric'}
        name={name}
        value={form.common[name]}
        placeholder="default"
        data-testid={`job-setting-${name}`}
        onInput={onInput}
        {...invalidAttrs(invalid === name)}
      />
      <small class="muted">{props.hint}</small>
    </label>
  )
}

/** The settings card of the job form. */
export function SettingsCard(props: SettingsCardProps) {
  const { form, onChange, invalid } = props
  return (
    <Card title="Settings">
      <div class="grid-3">
        {SETTING_FIELDS.map(([name, label, hint]) => (
          <SettingInput key={name} {...props} name={name} label={label} hint={hint} />
        ))}
        <label class="field">
          <span>Report</span>
          <select
            name="reportWhen"
            value={form.common.reportWhen}
            data-testid="job-setting-reportWhen"
            onChange={(e) => {
              onChange({ ...form, common: { ...form.common, reportWhen: e.currentTarget.value } })
            }}
            {...invalidAttrs(invalid === 'reportWhen')}
          >
            <option value="">default (on failure)</option>
            <option value="always">always</option>
            <option value="failure">on failure</option>
            <option value="error">on error</option>
            <option value="never">never</option>
          </select>
          <small class="muted">reportWhen</small>
        </label>
      </div>
      <details class="advanced" open={form.advancedJson !== '' || invalid === 'advanced'}>
        <summary>Advanced settings (JSON)</summary>
        <p class="muted small">
          The rest of <code>settings</code>: keys are <code>""</code> (the whole job), a schedule, remote, SR
          or VM id. Example:{' '}
          <code>{'{"": {"fullInterval": 10}, "<remote id>": {"exportRetention": 30}}'}</code>
        </p>
        <textarea
          rows={6}
          spellcheck={false}
          class={invalid === 'advanced' ? 'code invalid' : 'code'}
          aria-invalid={invalid === 'advanced' ? true : undefined}
          data-invalid={invalid === 'advanced' ? 'true' : undefined}
          value={form.advancedJson}
          data-testid="job-settings-advanced"
          onInput={(e) => {
            onChange({ ...form, advancedJson: e.currentTarget.value })
          }}
        />
      </details>
    </Card>
  )
}
