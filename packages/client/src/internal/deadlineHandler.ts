/**
 * The deadlines of one request our undici dispatcher sends, enforced in its
 * dispatch handler (`DeadlineHandler`, installed by the interceptor in
 * `transport.ts`): time to the response head, the idle gap between body
 * chunks, and the attempt's deadline, each counting responsive time
 * (`@httpkit/core/LagTimer`), with one timer per request. The attempt's
 * deadline also ends a request still waiting for a connection (in undici's
 * queue, or behind a connect or TLS handshake that does not finish).
 */
import * as LagTimer from "@httpkit/core/LagTimer"
import type * as Undici from "undici"
import * as Deadline from "./deadline.ts"

type IncomingHeaders = Parameters<NonNullable<Undici.Dispatcher.DispatchHandler["onResponseEnd"]>>[1]
type RawHeaders = NonNullable<Undici.Dispatcher.DispatchController["rawHeaders"]> | null
type Socket = Parameters<NonNullable<Undici.Dispatcher.DispatchHandler["onRequestUpgrade"]>>[3]

/**
 * The timer leaves the process free to exit: the request's socket keeps it alive while the request runs (and a
 * request waiting in undici's queue waits for a socket that does). Unreferenced, it also costs less to arm.
 */
const unreferenced: LagTimer.AfterOptions = { unref: true }

/** No deadline: a phase not running, or a timeout of 0 (none). */
const never = Number.POSITIVE_INFINITY

/** What undici gives a request's queued-abort hook: takes the request out of the queue it waits in, failing it. */
export type Dequeue = (reason: Error) => void

/**
 * undici's queued-abort hook (the dispatch option under its `kQueuedAbort` symbol): a pool or client that queues
 * the request, waiting for a connection, calls it with the `Dequeue` of that queue.
 */
export type QueuedHook = (dequeue: Dequeue) => void

/**
 * The deadlines of one request (one dispatch), in its dispatch handler: time
 * to the response head (from when undici has sent the request, body
 * included, as undici's own `headersTimeout` counts), the idle gap between
 * body chunks, and the attempt's deadline (from dispatch until the attempt is
 * over). Each forwards every handler call, and aborts through undici's
 * controller with `Deadline.DeadlineExpired` when a deadline passes; before
 * undici has started the request on a connection, through the queue that
 * holds it (`queuedHook`).
 *
 * **Details**
 *
 * - One timer at a time (`LagTimer`, so a stall of the event loop is not
 *   counted; unreferenced, as undici's own are), armed when the request is
 *   dispatched for the nearest deadline that can come, and brought forward
 *   when a nearer one begins (the head's when the request starts, the idle
 *   gap's when the head comes): while all is well it is cancelled unfired,
 *   one `setTimeout` per request. Chunks only note when they came; when the timer fires, the
 *   deadlines are compared with the time, one `setImmediate` step later (I/O
 *   that arrived in the same turn of the loop is read first), and the timer is
 *   re-armed for the next one when none has passed.
 * - Stalls the timer saw (the part it did not count) move every running
 *   deadline that had begun by then; a deadline begun after a stall may be
 *   moved too, late rather than early.
 * - The handler stands in for undici's controller towards the handler it
 *   wraps, so it sees the reader pause (backpressure: the consumer of the body
 *   is not reading) and resume: a paused body is not idle, and its idle gap
 *   starts afresh when reading resumes.
 * - Until undici starts the request (`onRequestStart`) there is no controller
 *   to abort: the request waits in a pool's or a client's queue, for a
 *   connection that may be connecting (TCP, then TLS). undici hands each queue's
 *   `Dequeue` to the hook the interceptor puts in the request's options
 *   (`queuedHook`, which passes it on to the hook that was there, the one
 *   that a caller's abort signal uses), and the attempt's deadline calls it:
 *   the request leaves the queue, is never sent, and fails with the deadline;
 *   a connection being opened for it alone is abandoned by undici (its socket
 *   destroyed). A request undici is handing to a connection at that instant
 *   is aborted as it starts.
 * - The head's deadline starts once the request has been sent, body included
 *   (`onRequestSent`), as undici's own `headersTimeout` does: an upload that
 *   takes longer than `headers` is not a silent server. While the body is
 *   being sent, only the attempt's deadline runs.
 */
export class DeadlineHandler
  implements Undici.Dispatcher.DispatchHandler, Undici.Dispatcher.DispatchController, Deadline.AttemptTarget
{
  readonly #handler: Undici.Dispatcher.DispatchHandler
  readonly #headersMillis: number
  readonly #idleMillis: number
  readonly #attempt: Deadline.AttemptDeadline | undefined
  #controller: Undici.Dispatcher.DispatchController | undefined = undefined
  /** The queue the request waits in, before undici starts it; undefined once it started (or never queued). */
  #dequeue: Dequeue | undefined = undefined
  #reason: Error | undefined = undefined
  #done = false
  /** Whether the response head (a final status) came: the head's deadline is over for good. */
  #headCame = false
  /** When the attempt's deadline passes (`performance.now()` ms), before any stall; `never` without one. */
  #attemptAt: number
  /** When the head must have come, before any stall: `never` until undici has sent the request, and after. */
  #headersAt = never
  /** The stall time counted when the request was sent. */
  #headersStalled = 0
  /** When the last chunk (or the head, or the reader's resumption) came: `never` outside the body. */
  #lastData = never
  /** The stall time counted when `lastData` was set. */
  #lastDataStalled = 0
  /** Whether the reader paused the body (backpressure). */
  #paused = false
  /** The stall time the timer saw, in all (ms). */
  #stalled = 0
  /** The running timer's cancel, when one runs; when it was armed and for how long. */
  #cancel: (() => void) | undefined = undefined
  #armedAt = 0
  #armedFor = 0
  /** Whether the timer fired and its `check` waits for the next `setImmediate` step. */
  #checking = false
  readonly #fire = () => this.#fired()

  constructor(
    handler: Undici.Dispatcher.DispatchHandler,
    headersMillis: number,
    idleMillis: number,
    attempt: Deadline.AttemptDeadline | undefined
  ) {
    this.#handler = handler
    this.#headersMillis = headersMillis > 0 ? headersMillis : 0
    this.#idleMillis = idleMillis > 0 ? idleMillis : 0
    this.#attempt = attempt
    const now = performance.now()
    const left = attempt?.arm(this, now)
    this.#attemptAt = left === undefined ? never : now + left
    // The nearest any deadline can be: every one starts now or later.
    const first = Math.min(left ?? never, this.#headersMillis || never, this.#idleMillis || never)
    if (first !== never) this.#arm(now, first)
  }

  #arm(now: number, millis: number): void {
    const span = Math.max(1, Math.ceil(millis))
    this.#armedAt = now
    this.#armedFor = span
    this.#cancel = LagTimer.after(span, this.#fire, unreferenced)
  }

  #disarm(): void {
    this.#done = true
    if (this.#cancel !== undefined) {
      this.#cancel()
      this.#cancel = undefined
    }
  }

  /** The timer fired: the stall it did not count is noted, and the deadlines are looked at after one step. */
  #fired(): void {
    this.#cancel = undefined
    this.#checking = true
    const late = performance.now() - this.#armedAt - this.#armedFor
    if (late > LagTimer.stallMillis) this.#stalled += late
    setImmediate(checkDeadlines, this)
  }

  /** Aborts with the deadline that passed (the earliest, if several), or arms the timer for the nearest one. */
  check(): void {
    this.#checking = false
    if (this.#done || this.#cancel !== undefined) return
    // Each deadline moved by the stalls seen since it began.
    const attemptAt = this.#attemptAt + this.#stalled
    const headersAt = this.#headersAt + this.#stalled - this.#headersStalled
    const idleAt = this.#paused ? never : this.#lastData + this.#idleMillis + this.#stalled - this.#lastDataStalled
    const next = Math.min(attemptAt, headersAt, idleAt)
    if (next === never) return
    const now = performance.now()
    if (next > now) return this.#arm(now, next - now)
    this.abort(
      next === attemptAt
        ? new Deadline.DeadlineExpired(this.#attempt!.phase, this.#attempt!.timeoutMillis, this.#mayHaveSent())
        : next === headersAt
        ? new Deadline.DeadlineExpired("headers", this.#headersMillis)
        : new Deadline.DeadlineExpired("idle", this.#idleMillis)
    )
  }

  /**
   * A deadline began that passes `millis` from `now`: the timer is brought forward when none runs or it would
   * fire later (a request that waited in undici's queue past the first firing, then was sent; a head that came
   * while the timer stood for the attempt's deadline). A pending `check` arms for the nearest itself.
   */
  #expectWithin(now: number, millis: number): void {
    if (this.#done || this.#checking) return
    if (this.#cancel !== undefined) {
      if (this.#armedAt + this.#armedFor <= now + millis) return
      this.#cancel()
      this.#cancel = undefined
    }
    this.#arm(now, millis)
  }

  /**
   * Whether any of the attempt's request may have left: undici started this request on a connection (it aborts
   * one it starts after this deadline before writing a byte, see `onRequestStart`), or this is a redirect hop
   * (an earlier request of the attempt was sent).
   */
  #mayHaveSent(): boolean {
    return this.#controller !== undefined || this.#attempt?.isFirst(this) !== true
  }

  /** The attempt is over: its deadline no longer applies to this request (a body read later keeps idle). */
  attemptEnded(): void {
    this.#attemptAt = never
  }

  // As undici's controller, towards the handler this one wraps.

  get aborted(): boolean {
    return this.#controller?.aborted ?? this.#reason !== undefined
  }
  get paused(): boolean {
    return this.#controller?.paused ?? false
  }
  get reason(): Error | null {
    return this.#controller?.reason ?? this.#reason ?? null
  }
  get rawHeaders(): RawHeaders {
    return this.#controller?.rawHeaders ?? null
  }
  get rawTrailers(): RawHeaders {
    return this.#controller?.rawTrailers ?? null
  }
  abort(reason: Error): void {
    this.#reason ??= reason
    if (this.#controller !== undefined) return this.#controller.abort(reason)
    // Not started: out of its queue (undici then calls `onResponseError`). Without a queue to leave (a dispatcher
    // that gave none, or one handing the request to a connection right now), `onRequestStart` aborts it.
    const dequeue = this.#dequeue
    if (dequeue !== undefined) {
      this.#dequeue = undefined
      dequeue(this.#reason)
    }
  }

  /**
   * undici's queued-abort hook for this request (the interceptor sets it in the request's options): keeps each
   * queue's `Dequeue` for the attempt's deadline, and hands it on to `outer`, the hook that was in the options
   * (undici's own, through which a caller's abort signal takes the request out of the queue).
   */
  queuedHook(outer: QueuedHook | undefined): QueuedHook {
    return (dequeue) => {
      if (this.#controller === undefined && !this.#done) {
        if (this.#reason !== undefined) return dequeue(this.#reason)
        this.#dequeue = dequeue
      }
      outer?.(dequeue)
    }
  }
  pause(): void {
    this.#paused = true
    this.#controller?.pause()
  }
  resume(): void {
    if (this.#paused) {
      this.#paused = false
      if (this.#lastData !== never && !this.#done) {
        const now = performance.now()
        this.#lastData = now
        this.#lastDataStalled = this.#stalled
        this.#expectWithin(now, this.#idleMillis)
      }
    }
    this.#controller?.resume()
  }

  // As undici's handler, forwarding to the one it wraps.

  onRequestStart(controller: Undici.Dispatcher.DispatchController, context: unknown): void {
    this.#controller = controller
    this.#dequeue = undefined
    this.#handler.onRequestStart?.(this, context)
    if (this.#reason !== undefined) controller.abort(this.#reason)
  }
  onBodySent(chunk: Buffer): void {
    this.#handler.onBodySent?.(chunk)
  }
  /** undici calls it when the response begins to arrive (defined here, so it is never `Object.prototype`'s). */
  onResponseStarted(): void {
    this.#handler.onResponseStarted?.()
  }
  /** The request went out whole, body included: the head's deadline starts (unless the head already came). */
  onRequestSent(): void {
    if (this.#headersMillis > 0 && !this.#headCame && !this.#done) {
      const now = performance.now()
      this.#headersAt = now + this.#headersMillis
      this.#headersStalled = this.#stalled
      this.#expectWithin(now, this.#headersMillis)
    }
    this.#handler.onRequestSent?.()
  }
  onRequestUpgrade(
    _controller: Undici.Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHeaders,
    socket: Socket
  ): void {
    this.#disarm()
    this.#handler.onRequestUpgrade?.(this, statusCode, headers, socket)
  }
  onResponseStart(
    _controller: Undici.Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHeaders,
    statusMessage?: string
  ): void {
    // An informational answer (1xx) is not the head: its deadline runs on.
    if (statusCode >= 200) {
      this.#headCame = true
      this.#headersAt = never
      if (this.#idleMillis > 0) {
        const now = performance.now()
        this.#lastData = now
        this.#lastDataStalled = this.#stalled
        this.#expectWithin(now, this.#idleMillis)
      }
    }
    this.#handler.onResponseStart?.(this, statusCode, headers, statusMessage)
  }
  onResponseData(_controller: Undici.Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#lastData !== never) {
      this.#lastData = performance.now()
      this.#lastDataStalled = this.#stalled
    }
    this.#handler.onResponseData?.(this, chunk)
  }
  onResponseEnd(_controller: Undici.Dispatcher.DispatchController, trailers: IncomingHeaders): void {
    this.#disarm()
    this.#handler.onResponseEnd?.(this, trailers)
  }
  onResponseError(_controller: Undici.Dispatcher.DispatchController, error: Error): void {
    this.#disarm()
    this.#handler.onResponseError?.(this, error)
  }
}

/** Runs a handler's `check` (one function for every handler: no closure per firing). */
const checkDeadlines = (handler: DeadlineHandler): void => handler.check()
