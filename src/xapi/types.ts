// The XAPI client contract the engine codes against (architecture.md §5): values, options, typed
// methods, events and the client interface. The concrete client is in http-xapi-client.ts.
import type { Readable } from 'node:stream'
import type {
  StringMap,
  VbdRecord,
  VdiRecord,
  VifRecord,
  VmRecord,
  XapiClass,
  XapiRecords,
  XapiRef,
} from './record-types.ts'

export type * from './record-types.ts'

/** A value on the XAPI wire: strings, numbers, booleans, arrays and maps/records (xapi.md §1.2–1.3). */
export type XapiValue =
  string | number | boolean | readonly XapiValue[] | { readonly [key: string]: XapiValue }

/** Options of one call: an abort signal and the time allowed for one HTTP round trip. */
export type CallOptions = {
  readonly signal?: AbortSignal
  /** Time allowed for one request/answer; default: the client's `callTimeoutMs`. */
  readonly timeoutMs?: number
}

/** The record shapes a constructor (`VM.create`, `VDI.create`…) takes: any subset of the fields. */
export type CreateRecord<R> = { readonly [K in keyof R]?: R[K] }

/** Typed signatures of the methods the engine calls (xapi.md §2.3–2.6): positional args after the session. */
export type XapiMethods = {
  'VM.snapshot': { args: [vm: XapiRef, newName: string, ignoreVdis?: readonly XapiRef[]]; result: XapiRef }
  'VM.checkpoint': { args: [vm: XapiRef, newName: string]; result: XapiRef }
  'VM.clone': { args: [vm: XapiRef, newName: string]; result: XapiRef }
  'VM.copy': { args: [vm: XapiRef, newName: string, sr: XapiRef]; result: XapiRef }
  'VM.create': { args: [record: CreateRecord<VmRecord>]; result: XapiRef }
  'VM.destroy': { args: [vm: XapiRef]; result: '' }
  'VM.start': { args: [vm: XapiRef, startPaused: boolean, force: boolean]; result: '' }
  'VM.clean_shutdown': { args: [vm: XapiRef]; result: '' }
  'VM.hard_shutdown': { args: [vm: XapiRef]; result: '' }
  'VM.set_name_label': { args: [vm: XapiRef, value: string]; result: '' }
  'VM.set_name_description': { args: [vm: XapiRef, value: string]; result: '' }
  'VM.set_is_a_template': { args: [vm: XapiRef, value: boolean]; result: '' }
  'VM.set_xenstore_data': { args: [vm: XapiRef, value: StringMap]; result: '' }
  'VM.add_to_other_config': { args: [vm: XapiRef, key: string, value: string]; result: '' }
  'VM.remove_from_other_config': { args: [vm: XapiRef, key: string]; result: '' }
  'VM.add_to_blocked_operations': { args: [vm: XapiRef, operation: string, reason: string]; result: '' }
  'VM.remove_from_blocked_operations': { args: [vm: XapiRef, operation: string]; result: '' }
  'VM.add_tags': { args: [vm: XapiRef, tag: string]; result: '' }
  'VM.remove_tags': { args: [vm: XapiRef, tag: string]; result: '' }
  'VM.update_allowed_operations': { args: [vm: XapiRef]; result: '' }
  'VBD.create': { args: [record: CreateRecord<VbdRecord>]; result: XapiRef }
  'VBD.destroy': { args: [vbd: XapiRef]; result: '' }
  'VBD.plug': { args: [vbd: XapiRef]; result: '' }
  'VBD.unplug': { args: [vbd: XapiRef]; result: '' }
  'VDI.create': { args: [record: CreateRecord<VdiRecord>]; result: XapiRef }
  'VDI.destroy': { args: [vdi: XapiRef]; result: '' }
  'VDI.snapshot': { args: [vdi: XapiRef, driverParams: StringMap]; result: XapiRef }
  'VDI.clone': { args: [vdi: XapiRef, driverParams: StringMap]; result: XapiRef }
  'VDI.resize': { args: [vdi: XapiRef, sizeBytes: number]; result: '' }
  'VDI.set_name_label': { args: [vdi: XapiRef, value: string]; result: '' }
  'VDI.add_to_other_config': { args: [vdi: XapiRef, key: string, value: string]; result: '' }
  'VDI.remove_from_other_config': { args: [vdi: XapiRef, key: string]; result: '' }
  'VIF.create': { args: [record: CreateRecord<VifRecord>]; result: XapiRef }
  'VIF.destroy': { args: [vif: XapiRef]; result: '' }
  'VIF.plug': { args: [vif: XapiRef]; result: '' }
  'VIF.unplug': { args: [vif: XapiRef]; result: '' }
  'SR.add_to_other_config': { args: [sr: XapiRef, key: string, value: string]; result: '' }
  'SR.remove_from_other_config': { args: [sr: XapiRef, key: string]; result: '' }
  'pool.add_to_other_config': { args: [pool: XapiRef, key: string, value: string]; result: '' }
  'pool.remove_from_other_config': { args: [pool: XapiRef, key: string]; result: '' }
  'host.get_servertime': { args: [host: XapiRef]; result: string }
  'task.create': { args: [label: string, description: string]; result: XapiRef }
  'task.cancel': { args: [task: XapiRef]; result: '' }
  'task.destroy': { args: [task: XapiRef]; result: '' }
  'event.inject': { args: [cls: string, ref: XapiRef]; result: string }
}

/** A typed method name. */
export type XapiMethod = keyof XapiMethods

/** One event of `event.from` (xapi.md §1.7): the latest state of `ref`, or its deletion. */
export type XapiEvent = {
  readonly id: string
  readonly class: string
  readonly operation: 'add' | 'mod' | 'del'
  readonly ref: XapiRef
  readonly snapshot?: { readonly [field: string]: XapiValue }
}

/** The answer of `event.from`: events since the token, the next token, live object counts. */
export type XapiEventBatch = {
  readonly events: readonly XapiEvent[]
  readonly token: string
  readonly valid_ref_counts: { readonly [cls: string]: number }
}

/** Query parameters of an HTTP handler (`/export?ref=…`); `session_id` and `task_id` are added by the client. */
export type ResourceQuery = { readonly [name: string]: string | number | boolean }

/** Options of getResource/putResource. */
export type ResourceOptions = {
  readonly signal?: AbortSignal
  /** Run the handler in this existing task (`task.create`) instead of one the client creates and destroys. */
  readonly taskRef?: XapiRef
}

/** Options of putResource; `length` is required because XAPI refuses chunked uploads (xapi.md §3). */
export type PutResourceOptions = ResourceOptions & {
  /**
   * Exact body length in bytes, sent as Content-Length. When unknown, pass UNKNOWN_LENGTH_BYTES:
   * the client then closes the connection once the body is written and the handler finishes on the
   * end of the data's own structure (XVA tar end, VHD footer; xapi.md §1.8 item 6, §3.2, §3.4).
   */
  readonly lengthBytes: number
}

/** A download from an HTTP handler: the body (close-delimited, with backpressure) and its task. */
export type XapiDownload = {
  readonly body: Readable
  readonly taskRef: XapiRef
  /** Waits for the handler's task (call after consuming `body`): decoded result, or XapiError. */
  result(options?: CallOptions): Promise<XapiValue>
}

/** Which wire protocol a client speaks (xapi.md §1.2–1.3). */
export type XapiTransportKind = 'json-rpc' | 'xml-rpc'

/** A connection to one pool through XAPI; every call runs in the client's session. */
export type XapiClient = {
  /** The protocol in use once connected (undefined before the first call when auto-detecting). */
  readonly transportKind: XapiTransportKind | undefined
  /** Logs in (`session.login_with_password`), following HOST_IS_SLAVE to the master; idempotent. */
  connect(options?: CallOptions): Promise<void>
  /** Logs out (`session.logout`) and releases sockets; the client can connect again later. */
  disconnect(): Promise<void>
  /** Calls `method` with the session prepended (not for `system.listMethods`); re-logs in once on SESSION_INVALID. */
  call<M extends XapiMethod>(
    method: M,
    args: XapiMethods[M]['args'],
    options?: CallOptions,
  ): Promise<XapiMethods[M]['result']>
  call(method: string, args?: readonly XapiValue[], options?: CallOptions): Promise<XapiValue>
  /** Calls `Async.<method>` and waits for its task: decoded result, XapiError, or `task.cancel` on abort. */
  callAsync<M extends XapiMethod>(
    method: M,
    args: XapiMethods[M]['args'],
    options?: CallOptions,
  ): Promise<XapiMethods[M]['result']>
  callAsync(method: string, args?: readonly XapiValue[], options?: CallOptions): Promise<XapiValue>
  /** Waits for `taskRef` to finish (events, polling fallback) and returns its decoded result. */
  waitTask(taskRef: XapiRef, options?: CallOptions): Promise<XapiValue>
  /** `<cls>.get_record`, normalised to the record type. */
  getRecord<C extends XapiClass>(cls: C, ref: XapiRef, options?: CallOptions): Promise<XapiRecords[C]>
  /** `<cls>.get_all_records`: ref → record. */
  getAllRecords<C extends XapiClass>(
    cls: C,
    options?: CallOptions,
  ): Promise<ReadonlyMap<XapiRef, XapiRecords[C]>>
  /** `<cls>.get_by_uuid` (UUID_INVALID when absent). */
  getByUuid(cls: XapiClass, uuid: string, options?: CallOptions): Promise<XapiRef>
  /** One `event.from(classes, token, timeoutSeconds)` call; blocks until an event or the timeout. */
  eventFrom(
    classes: readonly string[],
    token: string,
    timeoutSeconds: number,
    options?: CallOptions,
  ): Promise<XapiEventBatch>
  /**
   * Streams the events of `classes` (xapi.md §1.7): first every current object as `add`, then
   * changes as they happen, until `options.signal` aborts; EVENTS_LOST restarts from a full dump.
   */
  watchEvents(classes: readonly string[], options?: CallOptions): AsyncIterable<XapiEvent>
  /** GET an HTTP handler (`/export`, `/export_raw_vdi`…) as a stream. */
  getResource(path: string, query: ResourceQuery, options?: ResourceOptions): Promise<XapiDownload>
  /** PUT a stream to an HTTP handler (`/import`, `/import_raw_vdi`…) and return its task's decoded result. */
  putResource(
    path: string,
    query: ResourceQuery,
    body: Readable | AsyncIterable<Uint8Array>,
    options: PutResourceOptions,
  ): Promise<XapiValue>
}

/** The Content-Length to send when the upload size is unknown (1 PiB, xapi.md §1.8 item 6). */
export const UNKNOWN_LENGTH_BYTES = 1125899906842624
