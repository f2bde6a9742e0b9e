/**
 * One request through an undici dispatcher, as undici's `Dispatcher#request`
 * sends it, with a dispatch handler and a response body stream of our own:
 * the promise of the status and headers, then the body, read at most once.
 *
 * **Details**
 *
 * undici's `request` builds its response body with an object literal of its
 * own (`new Readable({ autoDestroy, read, highWaterMark })`), from which
 * Node's stream reads `signal`, `encoding`, `objectMode`, `construct`,
 * `destroy`...: with `Object.prototype.signal` or `encoding` polluted, every
 * response failed (RELIABILITY 10). Here the body is made with an options
 * object without a prototype, its table of listeners pinned
 * (`@httpkit/core/NodeOptions`), and the handler defines every method undici
 * calls, so undici reads none of them from `Object.prototype`.
 *
 * What it keeps of undici's: the abort signal (before dispatch: refused at
 * once; waiting for a connection: taken out of the queue through undici's
 * `kQueuedAbort` hook; sending: aborted; with the head received: the body
 * destroyed with the signal's reason), backpressure (a body nobody reads
 * pauses the response), `highWaterMark` and `onInfo` from the options, a
 * request stream body destroyed when the request fails, and `CONNECT` or an
 * `upgrade` refused as undici's `request` refuses them
 * (`UND_ERR_INVALID_ARG`).
 */
import * as NodeOptions from "@httpkit/core/NodeOptions"
import { addAbortListener } from "node:events"
import { Readable } from "node:stream"
import type * as Undici from "undici"
import { exactly } from "./own.ts"

type IncomingHeaders = Parameters<NonNullable<Undici.Dispatcher.DispatchHandler["onResponseStart"]>>[2]
type Socket = Parameters<NonNullable<Undici.Dispatcher.DispatchHandler["onRequestUpgrade"]>>[3]

/** The options of one request: undici's dispatch options, in an object without a prototype. */
export type Options = Undici.Dispatcher.DispatchOptions & {
  readonly highWaterMark?: number | null | undefined
  readonly onInfo?: ((info: { statusCode: number; headers: Record<string, string | Array<string>> }) => void) | null
}

/** A response: its status and headers, and its body to read. */
export interface ResponseData {
  readonly statusCode: number
  readonly headers: IncomingHeaders
  readonly body: ResponseBody
}

/** undici's error for a request refused before it was sent, by its code (`failure.ts` reads the code). */
const invalidArgument = (message: string): Error =>
  Object.assign(new Error(message), { name: "InvalidArgumentError", code: "UND_ERR_INVALID_ARG" })

/** undici's error for an aborted request, by its code. */
const aborted = (): Error =>
  Object.assign(new Error("Request aborted"), { name: "AbortError", code: "UND_ERR_ABORTED" })

const ignore = (): void => {}

const isStream = (body: unknown): body is Readable =>
  typeof body === "object" && body !== null && typeof (body as { pipe?: unknown }).pipe === "function" &&
  typeof (body as { on?: unknown }).on === "function"

/** A request body that is a stream, destroyed when the request fails (its source stops, its fiber ends). */
const destroyBody = (body: unknown, error: Error): void => {
  if (isStream(body) && !body.destroyed) {
    body.on("error", ignore)
    body.destroy(error)
  }
}

/**
 * Sends `options` through `dispatcher`, aborted by `signal`. `options` must
 * have no prototype, and no `signal`: undici reads it, and the dispatcher's
 * interceptors, by plain reads. `queuedAbort` is undici's `kQueuedAbort`.
 */
export const request = (
  dispatcher: Undici.Dispatcher,
  options: Options,
  signal: AbortSignal,
  queuedAbort: symbol
): Promise<ResponseData> =>
  new Promise((resolve, reject) => {
    const { body, highWaterMark, method, onInfo, upgrade } = options
    let refused: Error | undefined
    if (highWaterMark != null && (!Number.isFinite(highWaterMark) || highWaterMark < 0)) {
      refused = invalidArgument("invalid highWaterMark")
    } else if (method === "CONNECT" || Boolean(upgrade)) {
      refused = invalidArgument("invalid method: connection upgrades are not offered")
    } else if (onInfo != null && typeof onInfo !== "function") {
      refused = invalidArgument("invalid onInfo callback")
    } else if (signal.aborted) {
      refused = (signal.reason as Error | undefined) ?? aborted()
    }
    if (refused !== undefined) {
      destroyBody(body, refused)
      return reject(refused)
    }
    const handler = new ResponseHandler(resolve, reject, body, highWaterMark ?? undefined, onInfo ?? undefined)
    ;(options as unknown as { [key: symbol]: unknown })[queuedAbort] = handler.queuedHook
    handler.listen(signal)
    try {
      dispatcher.dispatch(options, handler)
    } catch (error) {
      handler.onResponseError(undefined, error as Error)
    }
  })

/**
 * The dispatch handler of one request: resolves with the response once its
 * head came, then feeds its body; fails the promise, or the body, with the
 * request's error.
 */
class ResponseHandler implements Undici.Dispatcher.DispatchHandler {
  readonly #resolve: (response: ResponseData) => void
  readonly #reject: (error: Error) => void
  readonly #requestBody: unknown
  readonly #highWaterMark: number | undefined
  readonly #onInfo: Options["onInfo"]
  #controller: Undici.Dispatcher.DispatchController | undefined = undefined
  /** The queue the request waits in, before undici starts it. */
  #dequeue: ((reason: Error) => void) | undefined = undefined
  /** Why the request was aborted (the signal's reason), once it was. */
  #reason: Error | undefined = undefined
  #body: ResponseBody | undefined = undefined
  /** Whether the response ended or failed: nothing more comes. */
  #done = false
  #unlisten: Disposable | undefined = undefined

  constructor(
    resolve: (response: ResponseData) => void,
    reject: (error: Error) => void,
    requestBody: unknown,
    highWaterMark: number | undefined,
    onInfo: Options["onInfo"]
  ) {
    this.#resolve = resolve
    this.#reject = reject
    this.#requestBody = requestBody
    this.#highWaterMark = highWaterMark
    this.#onInfo = onInfo
  }

  /** Aborts the request when `signal` does, whatever stage it is at. */
  listen(signal: AbortSignal): void {
    this.#unlisten = addAbortListener(signal, () => this.#abort((signal.reason as Error | undefined) ?? aborted()))
  }

  #abort(reason: Error): void {
    if (this.#done) return this.#stopListening()
    this.#reason ??= reason
    if (this.#body !== undefined) {
      this.#body.destroy(reason)
    } else if (this.#controller !== undefined) {
      this.#controller.abort(reason)
    } else if (this.#dequeue !== undefined) {
      // Waiting for a connection: out of the queue (undici then calls `onResponseError`).
      const dequeue = this.#dequeue
      this.#dequeue = undefined
      dequeue(reason)
    }
    // Otherwise undici is handing it to a connection right now: `onRequestStart` aborts it.
  }

  #stopListening(): void {
    const unlisten = this.#unlisten
    this.#unlisten = undefined
    unlisten?.[Symbol.dispose]()
  }

  /** undici's queued-abort hook: keeps the queue's `Dequeue` for the signal, or uses it at once when aborted. */
  readonly queuedHook = (dequeue: (reason: Error) => void): void => {
    if (this.#reason !== undefined) return dequeue(this.#reason)
    if (this.#controller === undefined && !this.#done) this.#dequeue = dequeue
  }

  onRequestStart(controller: Undici.Dispatcher.DispatchController, _context: unknown): void {
    this.#controller = controller
    this.#dequeue = undefined
    if (this.#reason !== undefined) controller.abort(this.#reason)
  }
  onRequestUpgrade(
    controller: Undici.Dispatcher.DispatchController,
    _statusCode: number,
    _headers: IncomingHeaders,
    socket: Socket
  ): void {
    // Never asked for (`request` refuses an upgrade); a server that switches protocols anyway loses the socket.
    socket.destroy()
    this.onResponseError(controller, invalidArgument("the server upgraded the connection"))
  }
  onBodySent(_chunk: Buffer): void {}
  onRequestSent(): void {}
  onResponseStarted(): void {}
  onResponseStart(
    controller: Undici.Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHeaders,
    _statusMessage?: string
  ): void {
    if (statusCode < 200) {
      this.#onInfo?.({ statusCode, headers: headers as Record<string, string | Array<string>> })
      return
    }
    const body = new ResponseBody(controller, this.#highWaterMark)
    this.#body = body
    body.once("close", () => this.#stopListening())
    this.#resolve({ statusCode, headers, body })
  }
  onResponseData(controller: Undici.Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#body !== undefined && !this.#body.push(chunk)) controller.pause()
  }
  onResponseEnd(_controller: Undici.Dispatcher.DispatchController, _trailers: IncomingHeaders): void {
    this.#done = true
    this.#body?.complete()
    this.#stopListening()
  }
  onResponseError(_controller: Undici.Dispatcher.DispatchController | undefined, error: Error): void {
    if (this.#done) return
    this.#done = true
    this.#stopListening()
    destroyBody(this.#requestBody, error)
    if (this.#body === undefined) this.#reject(error)
    else this.#body.destroy(error)
  }
}

/** A whole read in progress (`arrayBuffer`): the chunks so far, and what to settle. */
interface Collector {
  readonly chunks: Array<Uint8Array>
  size: number
  readonly resolve: (body: ArrayBuffer) => void
  readonly reject: (error: Error) => void
}

/** The chunks of `collector` in one `ArrayBuffer` of their length. */
const joined = (collector: Collector): ArrayBuffer => {
  const bytes = new Uint8Array(collector.size)
  let offset = 0
  for (let i = 0; i < collector.chunks.length; i++) {
    bytes.set(collector.chunks[i]!, offset)
    offset += collector.chunks[i]!.length
  }
  return bytes.buffer
}

/**
 * A response body: a Node `Readable` fed by the handler, which resumes the
 * response when read and aborts it when destroyed before its end, with
 * `arrayBuffer` to read it whole (once): the chunks then go straight to the
 * read, past the stream's buffer and events, as undici's own body does it.
 */
export class ResponseBody extends Readable {
  readonly #controller: Undici.Dispatcher.DispatchController
  /** Whether the whole body came (undici's `onResponseEnd`). */
  #complete = false
  #collector: Collector | undefined = undefined

  constructor(controller: Undici.Dispatcher.DispatchController, highWaterMark: number | undefined) {
    // Without a prototype: Node's stream reads a dozen more options (`signal`, `encoding`...) from this object.
    super(exactly({ autoDestroy: true, highWaterMark: highWaterMark ?? 64 * 1024 }))
    NodeOptions.pinEvents(this)
    this.#controller = controller
    // An error on a body nobody reads must not become an unhandled 'error' event.
    this.on("error", ignore)
  }

  override push(chunk: unknown, encoding?: BufferEncoding): boolean {
    const collector = this.#collector
    if (collector === undefined || chunk === null) return super.push(chunk, encoding)
    collector.chunks.push(chunk as Uint8Array)
    collector.size += (chunk as Uint8Array).length
    return true
  }

  /** The body ended (all of it came). */
  complete(): void {
    this.#complete = true
    const collector = this.#collector
    if (collector === undefined) {
      this.push(null)
    } else {
      this.#collector = undefined
      this.#settle(collector)
    }
  }

  /** A whole read got every chunk: it resolves, and the stream, read by nobody else, is closed. */
  #settle(collector: Collector): void {
    collector.resolve(joined(collector))
    this.destroy()
  }

  override _read(_size: number): void {
    this.#controller.resume()
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Destroyed before its end: the response is aborted (its connection closed), as undici's own body does.
    if (!this.#complete) this.#controller.abort(error ?? aborted())
    const collector = this.#collector
    if (collector !== undefined) {
      this.#collector = undefined
      collector.reject(error ?? aborted())
    }
    callback(error)
  }

  /** The whole body, read once; fails with the response's error, or when the body was destroyed or read. */
  arrayBuffer(): Promise<ArrayBuffer> {
    return new Promise((resolve, reject) => {
      if (this.errored !== null) return reject(this.errored)
      if (this.destroyed || this.readableDidRead || this.#collector !== undefined) {
        return reject(new TypeError("unusable"))
      }
      const collector: Collector = { chunks: [], size: 0, resolve, reject }
      // What came before the read began waits in the stream's buffer.
      if (this.readableLength > 0) {
        const buffered = this.read() as Uint8Array
        collector.chunks.push(buffered)
        collector.size += buffered.length
      }
      if (this.#complete) return this.#settle(collector)
      this.#collector = collector
      // undici paused the response if the buffer had filled.
      this.#controller.resume()
    })
  }
}
