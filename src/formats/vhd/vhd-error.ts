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
