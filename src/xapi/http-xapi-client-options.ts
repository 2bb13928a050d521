import type { Clock } from '../shared/clock.ts'
import type { XapiTransportKind } from './types.ts'

/** How to reach and log in to a pool. */
export type HttpXapiClientOptions = {
  /** `https://host[:port]` (or `http://`); user info in the URL is used as credentials and removed. */
  readonly url: string
  readonly user?: string
  readonly password?: string
  /** `auto` (default) probes JSON-RPC and falls back to XML-RPC (xapi.md §1.1). */
  readonly transport?: XapiTransportKind | 'auto'
  /** PEM CA certificate(s) to trust for HTTPS instead of the system store (e.g. the pool's self-signed one). */
  readonly ca?: string | Buffer
  /** Explicit opt-in to accept any certificate (XAPI's default self-signed one); default false. */
  readonly allowUnauthorized?: boolean
  /** Default time for one RPC round trip (default 10 minutes). */
  readonly callTimeoutMs?: number
  /** getResource/putResource fail when their socket stays silent this long (default 10 minutes). */
  readonly transferIdleTimeoutMs?: number
  /** Attempts for calls safe to resend after a transport error (default 3). */
  readonly safeCallTries?: number
  readonly retryDelayMs?: number
  /** Server-side timeout of each `event.from` while waiting for a task (default 30 s). */
  readonly eventTimeoutSeconds?: number
  readonly taskPollIntervalMs?: number
  /** `session.login_with_password` version and originator (xapi.md §1.4). */
  readonly apiVersion?: string
  readonly originator?: string
  readonly clock?: Clock
}
