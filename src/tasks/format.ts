/** Human duration: `850 ms`, `12.3 s`, `2 min 05 s`, `1 h 02 min`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`
  const s = Math.round(ms / 1000)
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']

/** Human size in binary units: `512 B`, `1.50 MiB`, `2.00 GiB`. */
export function formatBytes(bytes: number): string {
  let value = bytes
  let unit = 0
  while (Math.abs(value) >= 1024 && unit < UNITS.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(2)} ${UNITS[unit] ?? ''}`
}

/** Human throughput of `bytes` moved in `ms`: `480.00 MiB/s`; empty when the time is zero. */
export function formatRate(bytes: number, ms: number): string {
  return ms > 0 ? `${formatBytes((bytes * 1000) / ms)}/s` : ''
}

/** A JSON value as text: strings as they are, anything else as JSON. */
export function jsonText(value: unknown): string {
  if (typeof value === 'string') return value
  // JSON.stringify gives undefined for undefined and functions, whatever its declared type says.
  const json = JSON.stringify(value) as string | undefined
  return json ?? String(value)
}
