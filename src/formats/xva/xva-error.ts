import { BackupError } from '../../shared/errors.ts'

/** Stable codes of XVA (and its tar container) errors. */
export type XvaErrorCode =
  | 'XVA_TAR_INVALID'
  | 'XVA_TRUNCATED'
  | 'XVA_UNEXPECTED_ENTRY'
  | 'XVA_CHECKSUM_MISMATCH'
  | 'XVA_OVA_INVALID'
  | 'XVA_ENTRY_TOO_LARGE'
  | 'XVA_UNSUPPORTED'

/** An XVA error naming where (entry or offset), the field, what was expected and what was found. */
export class XvaError extends BackupError<XvaErrorCode> {
  constructor(code: XvaErrorCode, where: string, expected: string, got: string) {
    super(code, `${where}: expected ${expected}, got ${got}`, { details: { where, expected, got } })
  }
}
