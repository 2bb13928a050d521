// Run reports (issue 12): when to send them, and sending them to webhooks and by mail.
export { reportSubject, reportSummary, reportText } from './format-report.ts'
export {
  MAIL_TIMEOUT_MS,
  sendMail,
  smtpLabel,
  type MailMessage,
  type MailOptions,
  type SmtpSettings,
} from './mail.ts'
export { NotifyError, type NotifyErrorCode } from './notify-error.ts'
export { notifyRun, type NotifyDeps, type NotifyFailure } from './notify-run.ts'
export { shouldReport, type ReportWhen } from './report-when.ts'
export { sendWebhook, WEBHOOK_TIMEOUT_MS, webhookBody, webhookLabel, type WebhookOptions } from './webhook.ts'
