import http from 'node:http'
import https from 'node:https'
import type { Readable } from 'node:stream'
import type { Clock } from '../shared/clock.ts'
import { systemClock } from '../shared/clock.ts'
import { BackupError } from '../shared/errors.ts'
import { retry } from '../shared/async.ts'
import type { XapiClass, XapiRecords, XapiRef } from './record-types.ts'
import type {
  CallOptions,
  PutResourceOptions,
  ResourceOptions,
  ResourceQuery,
  XapiClient,
  XapiDownload,
  XapiEvent,
  XapiEventBatch,
  XapiMethod,
  XapiMethods,
  XapiTransportKind,
  XapiValue,
} from './types.ts'
import type { SelectingTransport } from './rpc-transports.ts'
import { createSelectingTransport } from './rpc-transports.ts'
import { expectString, normalizeEventBatch, normalizeRecord, normalizeRecordMap } from './records.ts'
import { waitForTask } from './task-waiter.ts'
import { getResource, putResource } from './resources.ts'
import { XapiTransportError, isXapiErrorCode } from './xapi-error.ts'
import { parseXapiUrl, urlOfMaster } from './xapi-url.ts'
import type { HttpXapiClientOptions } from './http-xapi-client-options.ts'

export type { HttpXapiClientOptions } from './http-xapi-client-options.ts'

/** The XAPI client over node:http(s): JSON-RPC or XML-RPC, one session, typed calls, tasks, HTTP handlers. */
export class HttpXapiClient implements XapiClient {
  readonly #user: string
  readonly #password: string
  readonly #options: HttpXapiClientOptions
  readonly #clock: Clock
  #baseUrl: URL
  #agent: http.Agent | undefined
  #transport: SelectingTransport | undefined
  #session: string | undefined
  #login: Promise<string> | undefined

  constructor(options: HttpXapiClientOptions) {
    const parsed = parseXapiUrl(options.url)
    this.#baseUrl = parsed.url
    this.#user = options.user ?? parsed.user ?? ''
    this.#password = options.password ?? parsed.password ?? ''
    this.#options = options
    this.#clock = options.clock ?? systemClock
  }

  get transportKind(): XapiTransportKind | undefined {
    return this.#transport?.kind ?? (this.#options.transport === 'auto' ? undefined : this.#options.transport)
  }

  /** The host currently talked to (changes after a HOST_IS_SLAVE redirect), without credentials. */
  get url(): string {
    return this.#baseUrl.href
  }

  #getAgent(): http.Agent {
    const tls = {
      rejectUnauthorized: this.#options.allowUnauthorized !== true,
      ...(this.#options.ca === undefined ? {} : { ca: this.#options.ca }),
    }
    this.#agent ??=
      this.#baseUrl.protocol === 'https:'
        ? new https.Agent({ keepAlive: true, ...tls })
        : new http.Agent({ keepAlive: true })
    return this.#agent
  }

  #getTransport(): SelectingTransport {
    this.#transport ??= createSelectingTransport(
      { baseUrl: this.#baseUrl, agent: this.#getAgent() },
      this.#options.transport ?? 'auto',
    )
    return this.#transport
  }

  #send(method: string, params: readonly XapiValue[], options: CallOptions): Promise<XapiValue> {
    const timeoutMs = options.timeoutMs ?? this.#options.callTimeoutMs ?? 600_000
    return this.#getTransport().call(method, params, { signal: options.signal, timeoutMs })
  }

  /** One RPC, resent only when XapiTransportError says it is safe (read-only, or never delivered). */
  async #rpc(method: string, params: readonly XapiValue[], options: CallOptions): Promise<XapiValue> {
    return retry(() => this.#send(method, params, options), {
      tries: this.#options.safeCallTries ?? 3,
      delayMs: this.#options.retryDelayMs ?? 500,
      isRetryable: (error) => error instanceof XapiTransportError && error.retryable,
      clock: this.#clock,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    })
  }

  async #loginOnce(options: CallOptions): Promise<string> {
    const args = [
      this.#user,
      this.#password,
      this.#options.apiVersion ?? '1.1',
      this.#options.originator ?? 'xapi-backup',
    ]
    try {
      return expectString(
        await this.#rpc('session.login_with_password', args, options),
        'session.login_with_password',
      )
    } catch (error) {
      const master = isXapiErrorCode(error, 'HOST_IS_SLAVE') ? error.params[0] : undefined
      if (master === undefined || master === '') throw error
      // A pool member refuses logins and names its master (xapi.md §1.4): go there, once.
      this.#baseUrl = urlOfMaster(this.#baseUrl, master)
      const kind = this.#transport?.kind
      this.#transport = createSelectingTransport(
        { baseUrl: this.#baseUrl, agent: this.#getAgent() },
        kind ?? this.#options.transport ?? 'auto',
      )
      return expectString(
        await this.#rpc('session.login_with_password', args, options),
        'session.login_with_password',
      )
    }
  }

  async #sessionRef(options: CallOptions = {}): Promise<string> {
    if (this.#session !== undefined) return this.#session
    // Concurrent callers share one login; only the timeout applies, not one caller's signal.
    this.#login ??= this.#loginOnce(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs })
      .then((ref) => (this.#session = ref))
      .finally(() => (this.#login = undefined))
    return this.#login
  }

  async connect(options: CallOptions = {}): Promise<void> {
    await this.#sessionRef(options)
  }

  async disconnect(): Promise<void> {
    const session = this.#session
    this.#session = undefined
    try {
      if (session !== undefined)
        await this.#send('session.logout', [session], { timeoutMs: 10_000 }).catch(() => undefined)
    } finally {
      this.#agent?.destroy()
      this.#agent = undefined
      this.#transport = undefined
    }
  }

  /** Runs `fn` with the session ref; on SESSION_INVALID logs in again and runs it once more (xapi.md §1.4). */
  async withSession<T>(fn: (session: string) => Promise<T>, options: CallOptions = {}): Promise<T> {
    const session = await this.#sessionRef(options)
    try {
      return await fn(session)
    } catch (error) {
      if (!isXapiErrorCode(error, 'SESSION_INVALID') || this.#password === '') throw error
      if (this.#session === session) this.#session = undefined
      return await fn(await this.#sessionRef(options))
    }
  }

  call<M extends XapiMethod>(
    method: M,
    args: XapiMethods[M]['args'],
    options?: CallOptions,
  ): Promise<XapiMethods[M]['result']>
  call(method: string, args?: readonly XapiValue[], options?: CallOptions): Promise<XapiValue>
  call(method: string, args: readonly XapiValue[] = [], options: CallOptions = {}): Promise<XapiValue> {
    if (method === 'session.login_with_password' || method === 'session.logout') {
      return Promise.reject(
        new BackupError('XAPI_BAD_CALL', `${method} is managed by connect()/disconnect(), not call()`),
      )
    }
    // system.listMethods is one of the two calls without a session (xapi.md §1.4, §1.5).
    if (method === 'system.listMethods') return this.#rpc(method, args, options)
    return this.withSession((session) => this.#rpc(method, [session, ...args], options), options)
  }

  callAsync<M extends XapiMethod>(
    method: M,
    args: XapiMethods[M]['args'],
    options?: CallOptions,
  ): Promise<XapiMethods[M]['result']>
  callAsync(method: string, args?: readonly XapiValue[], options?: CallOptions): Promise<XapiValue>
  async callAsync(
    method: string,
    args: readonly XapiValue[] = [],
    options: CallOptions = {},
  ): Promise<XapiValue> {
    options.signal?.throwIfAborted()
    // Not aborted mid-flight: a task created by an answer we dropped could not be cancelled.
    const quick = options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }
    const taskRef = expectString(await this.call(`Async.${method}`, args, quick), `Async.${method}`)
    try {
      return await this.#waitTask(taskRef, method, options)
    } finally {
      if (options.signal?.aborted !== true) await this.call('task.destroy', [taskRef]).catch(() => undefined)
    }
  }

  #waitTask(taskRef: XapiRef, method: string, options: CallOptions): Promise<XapiValue> {
    const deps = {
      call: (m: string, a: readonly XapiValue[], o?: CallOptions) => this.call(m, a, o),
      eventFrom: (c: readonly string[], t: string, s: number, o?: CallOptions) => this.eventFrom(c, t, s, o),
      clock: this.#clock,
      pollIntervalMs: this.#options.taskPollIntervalMs ?? 1000,
      eventTimeoutSeconds: this.#options.eventTimeoutSeconds ?? 30,
    }
    return waitForTask(deps, taskRef, method, options)
  }

  waitTask(taskRef: XapiRef, options: CallOptions = {}): Promise<XapiValue> {
    return this.#waitTask(taskRef, 'task', options)
  }

  async getRecord<C extends XapiClass>(cls: C, ref: XapiRef, options?: CallOptions): Promise<XapiRecords[C]> {
    return normalizeRecord(cls, await this.call(`${cls}.get_record`, [ref], options), `${cls}.get_record`)
  }

  async getAllRecords<C extends XapiClass>(
    cls: C,
    options?: CallOptions,
  ): Promise<ReadonlyMap<XapiRef, XapiRecords[C]>> {
    return normalizeRecordMap(
      cls,
      await this.call(`${cls}.get_all_records`, [], options),
      `${cls}.get_all_records`,
    )
  }

  async getByUuid(cls: XapiClass, uuid: string, options?: CallOptions): Promise<XapiRef> {
    return expectString(await this.call(`${cls}.get_by_uuid`, [uuid], options), `${cls}.get_by_uuid`)
  }

  async eventFrom(
    classes: readonly string[],
    token: string,
    timeoutSeconds: number,
    options: CallOptions = {},
  ): Promise<XapiEventBatch> {
    // The HTTP round trip must outlive the server-side wait (XO: 60.1 s server, 66 s client, xapi.md §1.8).
    const timeoutMs = options.timeoutMs ?? timeoutSeconds * 1000 + 10_000
    // A fractional timeout is encoded as an XML-RPC <double>, the parameter's type (xapi.md §1.2).
    const seconds = Number.isInteger(timeoutSeconds) ? timeoutSeconds + 0.001 : timeoutSeconds
    const value = await this.call('event.from', [classes, token, seconds], { ...options, timeoutMs })
    return normalizeEventBatch(value, 'event.from')
  }

  async *watchEvents(classes: readonly string[], options: CallOptions = {}): AsyncGenerator<XapiEvent> {
    let token = ''
    for (;;) {
      try {
        const batch = await this.eventFrom(classes, token, this.#options.eventTimeoutSeconds ?? 30, options)
        token = batch.token
        yield* batch.events
      } catch (error) {
        // The server dropped our backlog: start again from the current state (xapi.md §1.7).
        if (!isXapiErrorCode(error, 'EVENTS_LOST')) throw error
        token = ''
      }
    }
  }

  #resourceDeps(): Parameters<typeof getResource>[0] {
    return {
      baseUrl: () => this.#baseUrl,
      agent: () => this.#getAgent(),
      withSession: (fn, options) => this.withSession(fn, options),
      call: (method, args, options) => this.call(method, args, options),
      waitTask: (taskRef, what, options) => this.#waitTask(taskRef, what, options),
      idleTimeoutMs: this.#options.transferIdleTimeoutMs ?? 600_000,
    }
  }

  getResource(path: string, query: ResourceQuery, options: ResourceOptions = {}): Promise<XapiDownload> {
    return getResource(this.#resourceDeps(), path, query, options)
  }

  putResource(
    path: string,
    query: ResourceQuery,
    body: Readable | AsyncIterable<Uint8Array>,
    options: PutResourceOptions,
  ): Promise<XapiValue> {
    return putResource(this.#resourceDeps(), path, query, body, options)
  }
}
