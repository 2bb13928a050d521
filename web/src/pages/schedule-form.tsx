// Adding or editing one schedule: cron (with common presets), time zone (the browser's by
// default), enabled, and the schedule's own settings block as JSON (e.g. its exportRetention).
import { useMemo, useState } from 'preact/hooks'
import type { JsonObject } from '../../../src/shared/json.ts'
import { api, ApiError } from '../api.ts'
import type { ScheduleView } from '../types.ts'
import { CheckField, FormError, invalidAttrs, TextField } from '../ui/fields.tsx'
import { toast } from '../ui/toast.tsx'

const PRESETS: readonly (readonly [string, string])[] = [
  ['0 * * * *', 'every hour'],
  ['0 2 * * *', 'every day at 02:00'],
  ['0 3 * * 0', 'every Sunday at 03:00'],
  ['0 4 1 * *', 'the 1st of each month at 04:00'],
]

/** The browser's IANA time zone (the default for a new schedule). */
export function browserTimezone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone
}

function timezones(): readonly string[] {
  const intl = Intl as { supportedValuesOf?: (key: string) => string[] }
  return intl.supportedValuesOf?.('timeZone') ?? []
}

function parseSettings(text: string): JsonObject | string {
  if (text.trim() === '') return {}
  try {
    const value = JSON.parse(text) as unknown
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as JsonObject
    return 'settings: expected a JSON object'
  } catch (error) {
    return `settings: ${error instanceof Error ? error.message : 'invalid JSON'}`
  }
}

/** Props of ScheduleForm: `schedule` undefined adds one. */
export interface ScheduleFormProps {
  readonly jobId: string
  readonly schedule: ScheduleView | undefined
  readonly onDone: () => void
  readonly onCancel: () => void
}

interface Fields {
  readonly name: string
  readonly cron: string
  readonly timezone: string
  readonly enabled: boolean
  readonly settings: string
}

const fieldsOf = (schedule: ScheduleView | undefined): Fields => ({
  name: schedule?.name ?? '',
  cron: schedule?.cron ?? '0 2 * * *',
  timezone: schedule?.timezone ?? browserTimezone(),
  enabled: schedule?.enabled ?? true,
  settings:
    schedule === undefined || Object.keys(schedule.settings).length === 0
      ? ''
      : JSON.stringify(schedule.settings, null, 2),
})

function useSubmit(props: ScheduleFormProps, fields: Fields) {
  const [error, setError] = useState<{ message: string; path?: string | undefined } | undefined>(undefined)
  const [busy, setBusy] = useState(false)
  const submit = async (): Promise<void> => {
    const settings = parseSettings(fields.settings)
    if (typeof settings === 'string') {
      setError({ message: settings, path: 'settings' })
      return
    }
    const { name, cron, timezone, enabled } = fields
    const body = {
      jobId: props.jobId,
      name: name.trim(),
      cron: cron.trim(),
      timezone: timezone.trim(),
      enabled,
      settings,
    }
    setBusy(true)
    try {
      if (props.schedule === undefined) await api('POST', '/schedules', body)
      else await api('PUT', `/schedules/${encodeURIComponent(props.schedule.id)}`, body)
      toast(props.schedule === undefined ? 'Schedule added' : 'Schedule saved')
      props.onDone()
    } catch (failure) {
      setError({
        message: failure instanceof Error ? failure.message : String(failure),
        path: failure instanceof ApiError ? failure.path : undefined,
      })
    } finally {
      setBusy(false)
    }
  }
  return { error, busy, submit }
}

function CronField({
  value,
  onValue,
  invalid,
}: {
  readonly value: string
  readonly onValue: (v: string) => void
  readonly invalid: boolean
}) {
  return (
    <div class="field">
      <TextField
        label="Cron"
        value={value}
        onValue={onValue}
        testId="schedule-cron"
        required
        invalid={invalid}
        hint="minute hour day month weekday"
      />
      <select
        aria-label="Cron presets"
        value=""
        data-testid="schedule-preset"
        onChange={(e) => {
          if (e.currentTarget.value !== '') onValue(e.currentTarget.value)
        }}
      >
        <option value="">presets…</option>
        {PRESETS.map(([cron, label]) => (
          <option key={cron} value={cron}>
            {label} ({cron})
          </option>
        ))}
      </select>
    </div>
  )
}

function TimezoneField({
  value,
  onValue,
  invalid,
}: {
  readonly value: string
  readonly onValue: (v: string) => void
  readonly invalid: boolean
}) {
  const zones = useMemo(timezones, [])
  return (
    <label class="field">
      <span>Time zone</span>
      <input
        type="text"
        list="timezones"
        value={value}
        spellcheck={false}
        required
        data-testid="schedule-timezone"
        onInput={(e) => {
          onValue(e.currentTarget.value)
        }}
        {...invalidAttrs(invalid)}
      />
      <datalist id="timezones">
        {zones.map((zone) => (
          <option key={zone} value={zone} />
        ))}
      </datalist>
    </label>
  )
}

/** The add/edit form; POSTs or PUTs, shows the server's one-line reason on a 400. */
export function ScheduleForm(props: ScheduleFormProps) {
  const [fields, setFields] = useState(() => fieldsOf(props.schedule))
  const set =
    <K extends keyof Fields>(key: K) =>
    (value: Fields[K]) => {
      setFields({ ...fields, [key]: value })
    }
  const { error, busy, submit } = useSubmit(props, fields)
  const bad = (field: string): boolean => error?.path?.split('.').pop() === field
  return (
    <form
      class="schedule-form"
      data-testid="schedule-form"
      onSubmit={(e) => {
        e.preventDefault()
        void submit()
      }}
    >
      <div class="grid-3">
        <TextField
          label="Name"
          value={fields.name}
          onValue={set('name')}
          testId="schedule-name"
          placeholder="nightly"
          invalid={bad('name')}
        />
        <CronField value={fields.cron} onValue={set('cron')} invalid={bad('cron')} />
        <TimezoneField value={fields.timezone} onValue={set('timezone')} invalid={bad('timezone')} />
      </div>
      <CheckField
        label="Enabled"
        checked={fields.enabled}
        onChecked={set('enabled')}
        testId="schedule-form-enabled"
      />
      <details class="advanced" open={fields.settings !== ''}>
        <summary>This schedule's settings (JSON)</summary>
        <textarea
          rows={3}
          class="code"
          spellcheck={false}
          placeholder='{"exportRetention": 7}'
          value={fields.settings}
          data-testid="schedule-settings"
          onInput={(e) => {
            set('settings')(e.currentTarget.value)
          }}
        />
      </details>
      <FormError error={error?.message} testId="schedule-error" />
      <div class="form-actions">
        <button type="button" class="button" onClick={props.onCancel}>
          Cancel
        </button>
        <button type="submit" class="button primary" disabled={busy} data-testid="schedule-save">
          {props.schedule === undefined ? 'Add schedule' : 'Save schedule'}
        </button>
      </div>
    </form>
  )
}
