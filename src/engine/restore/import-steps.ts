// The steps of an import, each naming what it makes: a XAPI failure becomes RESTORE_IMPORT_FAILED
// saying which step and which object, so a user reads "creating the VDI of disk … on SR … failed:
// SR_BACKEND_FAILURE_44" rather than a bare XAPI code.
import { isAbortError } from '../../shared/errors.ts'
import type { XapiRef, XapiValue } from '../../xapi/types.ts'
import type { LooseRecord } from './network-mapping.ts'
import { RestoreError } from './restore-error.ts'

/** `value` when it is a string, else undefined (fields of outside records). */
export const textOf = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined)

/** `disk <uuid> "<name>"` of a VDI record, for messages. */
export function describeDisk(key: string, vdi: LooseRecord | undefined): string {
  const name = textOf(vdi?.name_label)
  return `disk ${textOf(vdi?.uuid) ?? key}${name === undefined || name === '' ? '' : ` ${JSON.stringify(name)}`}`
}

/** Runs one XAPI step; a failure other than an abort becomes RESTORE_IMPORT_FAILED naming `what`. */
export async function step<T>(what: string, object: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (error) {
    if (isAbortError(error) || error instanceof RestoreError) throw error
    const code = (error as { code?: unknown }).code
    const reason = error instanceof Error ? error.message : String(error)
    const shown = typeof code === 'string' && !reason.includes(code) ? `${code}: ${reason}` : reason
    throw new RestoreError('RESTORE_IMPORT_FAILED', `${what} failed: ${shown}`, {
      details: { object },
      cause: error,
    })
  }
}

/** Runs a constructor call as a step; its answer must be a ref (RESTORE_IMPORT_FAILED otherwise). */
export async function create(what: string, object: string, call: () => Promise<XapiValue>): Promise<XapiRef> {
  const ref = await step(what, object, call)
  if (typeof ref !== 'string' || !ref.startsWith('OpaqueRef:'))
    throw new RestoreError(
      'RESTORE_IMPORT_FAILED',
      `${what}: XAPI answered ${JSON.stringify(ref).slice(0, 100)}, not a ref`,
      {
        details: { object },
      },
    )
  return ref
}
