import { BackupError } from '../shared/errors.ts'

/**
 * A XAPI API error raised by the simulator: `code` is the XAPI error code and `params` its
 * string parameters, sent as `ErrorDescription` (XML-RPC) or `{code:1,message,data}` (JSON-RPC).
 */
export class XapiFault extends BackupError {
  readonly params: readonly string[]

  constructor(code: string, params: readonly string[] = []) {
    super(code, `${code}(${params.join(', ')})`)
    this.params = params
  }
}

/** Raises `HANDLE_INVALID [cls, ref]` (xapi.md §1.5). */
export function handleInvalid(cls: string, ref: string): XapiFault {
  return new XapiFault('HANDLE_INVALID', [cls, ref])
}
