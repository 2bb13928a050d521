import { BackupError } from './errors.ts'

const pad = (n: number, width = 2): string => String(n).padStart(width, '0')

function utcParts(ms: number): [string, string, string, string, string, string] {
  if (!Number.isFinite(ms)) throw new BackupError('INVALID_TIMESTAMP', `not a valid time: ${ms}`)
  const d = new Date(ms)
  return [
    pad(d.getUTCFullYear(), 4),
    pad(d.getUTCMonth() + 1),
    pad(d.getUTCDate()),
    pad(d.getUTCHours()),
    pad(d.getUTCMinutes()),
    pad(d.getUTCSeconds()),
  ]
}

/** Formats epoch ms as a backup name stem, UTC `YYYYMMDDTHHmmssZ` (seed "File structure on remote"). */
export function formatBackupTimestamp(ms: number): string {
  const [y, mo, d, h, mi, s] = utcParts(ms)
  return `${y}${mo}${d}T${h}${mi}${s}Z`
}

/** Formats epoch ms in XAPI's datetime form `%Y%m%dT%H:%M:%SZ` (used for `xo:backup:datetime`). */
export function formatXapiDateTime(ms: number): string {
  const [y, mo, d, h, mi, s] = utcParts(ms)
  return `${y}${mo}${d}T${h}:${mi}:${s}Z`
}

// Compact names (ours and XO's), the same without the Z (older XO), and ISO-8601 extended
// forms (older XO metadata and XML-RPC dateTime.iso8601 variants). All are read as UTC.
const COMPACT = /^(\d{4})(\d{2})(\d{2})T(\d{2}):?(\d{2}):?(\d{2})Z?$/
const EXTENDED = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:Z|[+-]00:?00)?$/

function parseUtc(text: string, what: string): number {
  const m = COMPACT.exec(text) ?? EXTENDED.exec(text)
  if (m === null) {
    throw new BackupError(
      'INVALID_TIMESTAMP',
      `${what}: expected YYYYMMDDTHHmmssZ, got ${JSON.stringify(text)}`,
    )
  }
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number]
  const ms = Date.UTC(y, mo - 1, d, h, mi, s)
  // Date.UTC silently rolls 20260231 over to March; a name must denote exactly the time it spells.
  if (formatBackupTimestamp(ms) !== `${m[1]}${m[2]}${m[3]}T${m[4]}${m[5]}${m[6]}Z`) {
    throw new BackupError('INVALID_TIMESTAMP', `${what}: ${JSON.stringify(text)} is not a real date`)
  }
  return ms
}

/**
 * Parses a backup name stem (`20260101T000000Z`, or XO's older forms: no `Z`, ISO-8601 extended)
 * to epoch ms; throws INVALID_TIMESTAMP naming the text otherwise.
 */
export function parseBackupTimestamp(text: string): number {
  return parseUtc(text, 'backup timestamp')
}

/** Parses a XAPI datetime (`20240420T12:00:00Z`, with or without `Z`/colons) to epoch ms. */
export function parseXapiDateTime(text: string): number {
  return parseUtc(text, 'XAPI datetime')
}
