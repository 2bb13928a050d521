import { z } from 'zod'
import { isUuid } from '../shared/ids.ts'
import { tooDeepAt } from '../shared/json.ts'
import { RepositoryError } from './repository-error.ts'

// XO's backup metadata, version 2.0.0 (xen-orchestra-backups.md §2.2). Validation is strict on the
// fields we act on and keeps every other field as is (`loose`), so a file written by XO and
// rewritten by us loses nothing.

const MAX_SIZE_BYTES = 2 ** 53 - 1

/**
 * The largest metadata file read. XO's metadata holds the VM and snapshot records plus one VBD,
 * VDI and VHD entry per disk: 5–60 KiB for real VMs (16 disks with large other_config maps stay
 * under 100 KiB), so 4 MiB is 40 times the largest seen and a 2 GiB `.json` is refused from its
 * size, before a byte of it is read.
 */
export const MAX_METADATA_BYTES = 4 * 1024 * 1024

/**
 * The deepest nesting accepted (containers). XO's metadata nests 4–5 levels (vdis → ref → record →
 * other_config → key); deeper input is refused before the recursive validation and serialisation
 * that would overflow the stack at a few thousand levels.
 */
export const MAX_METADATA_DEPTH = 32
const size = z.number().int().min(0).max(MAX_SIZE_BYTES)
const uuid = z.string().refine(isUuid, { error: 'expected a UUID' })
const xapiRecord = z.looseObject({ uuid: uuid.optional() })
const refMap = <T extends z.ZodType>(value: T) => z.record(z.string().min(1), value)

const common = {
  version: z.literal('2.0.0'),
  jobId: z.string().min(1),
  scheduleId: z.string().min(1),
  timestamp: z.number().int().min(0),
  vm: z.looseObject({ uuid, name_label: z.string().optional() }),
  vmSnapshot: xapiRecord,
  size: size.optional(),
  tags: z.array(z.string()).optional(),
}

/** The metadata of a full backup: one XVA. */
export const fullBackupMetadataSchema = z.looseObject({
  ...common,
  mode: z.literal('full'),
  xva: z.string().min(1),
})

/** The metadata of a delta backup: one VHD per VDI, keyed by the snapshot's VDI ref. */
export const deltaBackupMetadataSchema = z.looseObject({
  ...common,
  mode: z.literal('delta'),
  vbds: refMap(xapiRecord),
  vdis: refMap(xapiRecord),
  vifs: refMap(xapiRecord).optional(),
  vhds: refMap(z.string().min(1)),
  isVhdDifferencing: refMap(z.boolean()).optional(),
  vtpms: z.array(z.string()).optional(),
})

/** Full backup metadata. */
export type FullBackupMetadata = z.infer<typeof fullBackupMetadataSchema>
/** Delta backup metadata. */
export type DeltaBackupMetadata = z.infer<typeof deltaBackupMetadataSchema>
/** Either kind, told apart by `mode`. */
export type BackupMetadata = FullBackupMetadata | DeltaBackupMetadata

const schema = z.discriminatedUnion('mode', [fullBackupMetadataSchema, deltaBackupMetadataSchema])

function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.length === 0 ? '(root)' : issue.path.map(String).join('.')
  return `${path}: ${issue.message}`
}

/**
 * Parses and validates the text of a `<ts>.json` file at `path`: truncated or non-JSON text,
 * unknown versions and mistyped fields throw METADATA_INVALID / METADATA_UNSUPPORTED_VERSION
 * naming the file and the field. Cross-field checks: a delta's `vhds` and `vdis` name the same refs.
 * Nesting deeper than MAX_METADATA_DEPTH is METADATA_INVALID (never a stack overflow).
 */
export function parseBackupMetadata(text: string, path: string): BackupMetadata {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new RepositoryError('METADATA_INVALID', `${path}: not valid JSON (${(error as Error).message})`)
  }
  return validateBackupMetadata(value, path)
}

/** The checks of parseBackupMetadata on a value already parsed (a cache entry), with the same errors. */
export function validateBackupMetadata(value: unknown, path: string): BackupMetadata {
  const deep = tooDeepAt(value, MAX_METADATA_DEPTH)
  if (deep !== undefined) {
    throw new RepositoryError(
      'METADATA_INVALID',
      `${path}: ${deep.length > 200 ? `${deep.slice(0, 199)}…` : deep}: expected at most ${MAX_METADATA_DEPTH} levels of nesting, got more`,
    )
  }
  if (typeof value === 'object' && value !== null && 'version' in value && value.version !== '2.0.0') {
    throw new RepositoryError(
      'METADATA_UNSUPPORTED_VERSION',
      `${path}: version: expected "2.0.0", got ${JSON.stringify(value.version)}`,
    )
  }
  const result = schema.safeParse(value)
  if (!result.success) {
    throw new RepositoryError(
      'METADATA_INVALID',
      `${path}: ${result.error.issues.slice(0, 3).map(describeIssue).join('; ')}`,
    )
  }
  const metadata = result.data
  if (metadata.mode === 'delta') {
    const missing = Object.keys(metadata.vhds).filter((ref) => !(ref in metadata.vdis))
    if (missing.length > 0)
      throw new RepositoryError(
        'METADATA_INVALID',
        `${path}: vhds: refs without a VDI record: ${missing.join(', ')}`,
      )
  }
  return metadata
}
