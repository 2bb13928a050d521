import { BackupError } from '../../shared/errors.ts'
import type { Json } from '../../shared/json.ts'

/** Stable codes of ExportError. */
export type ExportErrorCode =
  /** XAPI refused the export before the first byte (HTTP error, task failure). */
  | 'EXPORT_REFUSED'
  /** The body is not what was asked: an XAPI error page in a 200 body, a dynamic VHD for a delta, wrong compression. */
  | 'EXPORT_UNEXPECTED_FORMAT'
  /** The VHD stream declares a disk size other than the VDI's virtual_size. */
  | 'EXPORT_SIZE_MISMATCH'
  /** The body was cut, corrupt, or its connection failed while it was read. */
  | 'EXPORT_BROKEN'
  /** The body was read whole but the XAPI task of the export failed. */
  | 'EXPORT_TASK_FAILED'
  /** The export was closed (every consumer left, or the caller aborted) before it was read whole. */
  | 'EXPORT_CLOSED'

/**
 * An export from XAPI went wrong: `details.object` names the VDI or VM (uuid and ref); the message
 * says where (byte offset), what was expected and what came; `cause` is the underlying error.
 */
export class ExportError extends BackupError<ExportErrorCode> {}

/** What an export is of, for messages: `VDI <uuid> (<ref>)` or `VM <uuid> (<ref>)`. */
export interface ExportSubject {
  readonly kind: 'VDI' | 'VM'
  readonly ref: string
  readonly uuid: string
  /** The handler and its query, without credentials: `/export_raw_vdi?format=vhd&base=…`. */
  readonly request: string
}

/** `VDI <uuid> (<ref>)`. */
export function subjectName(subject: ExportSubject): string {
  return `${subject.kind} ${subject.uuid} (${subject.ref})`
}

/** Builds an ExportError about `subject`: `<request> of <subject>: <message>`, with details. */
export function exportError(
  code: ExportErrorCode,
  subject: ExportSubject,
  message: string,
  options: { readonly cause?: unknown; readonly details?: Readonly<Record<string, Json>> } = {},
): ExportError {
  return new ExportError(code, `${subject.request} of ${subjectName(subject)}: ${message}`, {
    details: {
      object: { kind: subject.kind, ref: subject.ref, uuid: subject.uuid },
      request: subject.request,
      ...options.details,
    },
    cause: options.cause,
  })
}
