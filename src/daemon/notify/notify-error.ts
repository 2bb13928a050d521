import { BackupError } from '../../shared/errors.ts'
import { jsonText } from '../../tasks/format.ts'

/** Why a notification was not delivered. */
export type NotifyErrorCode =
  | 'WEBHOOK_URL_INVALID'
  | 'WEBHOOK_HTTP_STATUS'
  | 'WEBHOOK_REDIRECT'
  | 'WEBHOOK_TIMEOUT'
  | 'WEBHOOK_FAILED'
  | 'MAIL_NOT_CONFIGURED'
  | 'MAIL_FAILED'

/** A notification that could not be delivered; its message names the target without its secrets. */
export class NotifyError extends BackupError<NotifyErrorCode> {}

/** The message of an error and of its causes (a few levels), on one line. */
export function describeError(error: unknown): string {
  const parts: string[] = []
  let current: unknown = error
  for (let depth = 0; depth < 4 && current !== undefined; depth++) {
    const message = current instanceof Error ? current.message : jsonText(current)
    if (message !== '' && !parts.includes(message)) parts.push(message)
    current = current instanceof Error ? current.cause : undefined
  }
  return parts.join(': ').replace(/\s*[\r\n]+\s*/g, ' ')
}
