import { PathError } from '../../shared/confine.ts'
import { BackupError } from '../../shared/errors.ts'

/** Stable codes of VhdError. */
export type VhdErrorCode =
  | 'VHD_INVALID'
  | 'VHD_TRUNCATED'
  | 'VHD_UNSUPPORTED'
  | 'VHD_PARENT_MISMATCH'
  | 'VHD_PARENT_MISSING'
  | 'VHD_MERGE_STATE'
  | 'VHD_BAD_ARGUMENT'

/** A precise structural problem: where (file, byte offset, field), what was expected and what was found. */
export interface VhdIssue {
  readonly code: VhdErrorCode
  readonly file: string
  readonly offset: number
  readonly field: string
  readonly expected: string
  readonly got: string
}

/** Renders an issue as one line: `file@offset field: expected X, got Y`. */
export function formatIssue(issue: VhdIssue): string {
  return `${issue.file}@${issue.offset} ${issue.field}: expected ${issue.expected}, got ${issue.got}`
}

/** Error of the VHD library; `issue` (also in `details`) says exactly what is wrong and where. */
export class VhdError extends BackupError<VhdErrorCode> {
  readonly issue: VhdIssue

  constructor(issue: VhdIssue, options: { cause?: unknown } = {}) {
    super(issue.code, formatIssue(issue), { details: { ...issue }, ...options })
    this.issue = issue
  }
}

/** Builds an issue; `expected`/`got` accept numbers and are stringified. */
export function issue(
  code: VhdErrorCode,
  file: string,
  offset: number,
  field: string,
  expected: string | number,
  got: string | number,
): VhdIssue {
  return { code, file, offset, field, expected: String(expected), got: String(got) }
}

/** Throws a VhdError for the issue built from the arguments. */
export function fail(
  code: VhdErrorCode,
  file: string,
  offset: number,
  field: string,
  expected: string | number,
  got: string | number,
): never {
  throw new VhdError(issue(code, file, offset, field, expected, got))
}

/**
 * Rethrows `error` with where the refused path was read: a PathError gets `file@offset field:` in
 * front of its message (same code), a missing path becomes VHD_PARENT_MISSING; other errors pass.
 */
export function withPathContext(
  error: unknown,
  file: string,
  offset: number,
  field: string,
  reference: string,
): never {
  if (!(error instanceof PathError)) throw error
  if (error.code === 'PATH_MISSING')
    fail('VHD_PARENT_MISSING', file, offset, field, `a readable parent at ${reference}`, error.message)
  throw new PathError(error.code, `${file}@${offset} ${field}: ${error.message}`, {
    details: { ...error.details, file, offset, field },
  })
}
