/**
 * How long each export may take and how many may be pending, per endpoint
 * (one per signal): what Effect's exporter does not bound (RELIABILITY 12,
 * 13).
 *
 * Effect's exporter starts a new export each time 1,000 spans or log records
 * are buffered, without waiting for the last one, and retries each with no
 * deadline: a collector that accepts connections but never answers collected
 * one hung request per batch, each holding its batch, until undici gave up
 * after 300 s. Here, per endpoint:
 *
 * - **One request at a time.** The others wait their turn.
 * - **At most `maxPending` exports** waiting, sending or between their tries
 *   (the batch Effect hands over and its retries are one export: the same
 *   request object). A batch that arrives with `maxPending` pending is
 *   dropped: it is answered at once, as if delivered, so Effect's exporter
 *   neither retries it nor pauses the signal. The first drop is logged as a
 *   warning, and how many were dropped once every pending export is done.
 * - **A deadline per export**, `timeout` from its first try being sent,
 *   shared by its retries: a try cut off by it fails as a transport failure
 *   (its socket closed), and once it has passed every further try fails at
 *   once without sending. A transient answer (429, 503) whose `Retry-After`
 *   asks for more than the time left fails at once too, rather than have
 *   Effect sleep that long holding the batch.
 * - **The last outcome, not the deadline, is what a late try reports.** A try
 *   that Effect's pause (1 s) brings past the deadline was never sent, so it
 *   fails with what the try before it got: the receiver's status (a
 *   `StatusCodeError`, as Effect's own status check makes it) or the
 *   connection's failure (a `TransportError` with the same cause). "No answer
 *   within exportTimeout" is said only of a try the deadline cut off, and
 *   names what the try before it got, if one did. So a receiver answering 500,
 *   or refusing the connection, is reported as such whatever `exportTimeout`
 *   is, and not as silence.
 *
 * So an export ends within `timeout` plus Effect's pauses between its at most
 * four tries (1 s each; 5 s after a 429 without `Retry-After`).
 */
import * as Redact from "@httpkit/core/Redact"
import * as RetryAfter from "@httpkit/core/RetryAfter"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientError from "effect/http/HttpClientError"
import type * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as HttpClientResponse from "effect/http/HttpClientResponse"
import type * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import { reasonOf } from "./failureReason.ts"

/** What the gate is built from. */
export interface Options {
  /** Each export's deadline, in milliseconds, from its first try being sent. */
  readonly timeout: number
  /** Exports pending per endpoint (waiting, sending or between tries); a batch beyond them is dropped. */
  readonly maxPending: number
}

/**
 * What a try got that Effect's exporter may try again after: a transient
 * status (429, 5xx), or a transport failure.
 */
type Outcome =
  | { readonly _tag: "Status"; readonly status: number }
  | {
    readonly _tag: "Failure"
    readonly error: HttpClientError.HttpClientError
    readonly reason: HttpClientError.TransportError
  }

/** One export: a batch and its retries (the same request object). */
interface Export {
  /** When its first try was sent plus the timeout, in epoch milliseconds; undefined until then. */
  deadline: number | undefined
  /** What its last try that ended got; undefined before one ended. */
  last: Outcome | undefined
  /** Why it is out of time, once it is: every later try fails with this at once. */
  spent: HttpClientError.HttpClientError | undefined
  /** Done: delivered, refused for good, interrupted, or out of time. */
  settled: boolean
}

/** One endpoint's exports. */
interface Endpoint {
  readonly url: string
  readonly permit: Semaphore.Semaphore
  readonly pending: Set<Export>
  /** Batches dropped since the last report. */
  dropped: number
}

const droppedResponses = new WeakSet<HttpClientResponse.HttpClientResponse>()

/** Whether `response` is the gate's answer to a dropped batch (nothing was sent). */
export const isDropped = (response: HttpClientResponse.HttpClientResponse): boolean => droppedResponses.has(response)

const outOfTime = (request: HttpClientRequest.HttpClientRequest, message: string) =>
  new HttpClientError.HttpClientError({
    reason: new HttpClientError.TransportError({ request, cause: new Error(message) })
  })

const seconds = (millis: number): string => `${Number((millis / 1000).toFixed(3))} s`

/** `outcome` in words, for a message: `the receiver answered 500`, or Node's reason for a failure. */
const describe = (outcome: Outcome): string =>
  outcome._tag === "Status" ? `the receiver answered ${outcome.status}` : reasonOf(outcome.error)

/** Whether an export that ended so may be tried again by Effect's exporter (the same request, soon). */
const mayRetry = (exit: Exit.Exit<HttpClientResponse.HttpClientResponse, unknown>): boolean =>
  Exit.isSuccess(exit)
    ? HttpClient.isTransientResponse(exit.value)
    : !Exit.hasInterrupts(exit) &&
      exit.cause.reasons.some((reason) => Cause.isFailReason(reason) && HttpClient.isTransientError(reason.error))

/**
 * `client`, with each endpoint's exports bounded in time and number. Drops
 * not reported yet are logged when the scope closes.
 */
export const make = (
  client: HttpClient.HttpClient,
  options: Options
): Effect.Effect<HttpClient.HttpClient, never, Scope.Scope> =>
  Effect.gen(function*() {
    const exports = new WeakMap<HttpClientRequest.HttpClientRequest, Export>()
    // One entry per URL the exporters post to: three at most.
    const endpoints = new Map<string, Endpoint>()
    const endpointOf = (url: string): Endpoint => {
      let endpoint = endpoints.get(url)
      if (endpoint === undefined) {
        endpoint = { url, permit: Semaphore.makeUnsafe(1), pending: new Set(), dropped: 0 }
        endpoints.set(url, endpoint)
      }
      return endpoint
    }

    const logDropped = (endpoint: Endpoint): Effect.Effect<void> => {
      const count = endpoint.dropped
      endpoint.dropped = 0
      return Effect.logWarning(
        `OTLP export to ${Redact.url(endpoint.url)}: dropped ${count} batch${count === 1 ? "" : "es"} while ` +
          `${options.maxPending} exports were pending`
      )
    }
    yield* Effect.addFinalizer(() =>
      Effect.forEach(endpoints.values(), (endpoint) => endpoint.dropped > 0 ? logDropped(endpoint) : Effect.void, {
        discard: true
      })
    )

    const settle = (endpoint: Endpoint, entry: Export): Effect.Effect<void> =>
      Effect.suspend(() => {
        entry.settled = true
        endpoint.pending.delete(entry)
        // Every pending export done: the drops of the episode are reported once.
        return endpoint.pending.size === 0 && endpoint.dropped > 0 ? logDropped(endpoint) : Effect.void
      })

    /** Forgets the exports past their deadline that Effect's exporter stopped trying. */
    const prune = (endpoint: Endpoint, now: number) => {
      for (const entry of endpoint.pending) {
        if (entry.spent !== undefined || (entry.deadline !== undefined && entry.deadline <= now)) {
          endpoint.pending.delete(entry)
        }
      }
    }

    const drop = (endpoint: Endpoint, request: HttpClientRequest.HttpClientRequest) => {
      endpoint.dropped++
      const response = HttpClientResponse.fromWeb(request, new Response(null, { status: 204 }))
      droppedResponses.add(response)
      if (endpoint.dropped > 1) return Effect.succeed(response)
      return Effect.as(
        Effect.logWarning(
          `OTLP export to ${Redact.url(endpoint.url)}: ${options.maxPending} exports pending (the receiver is ` +
            `slow or not answering); new batches are dropped until they are done`
        ),
        response
      )
    }

    const exportTimeout = `exportTimeout (${seconds(options.timeout)})`

    /** The error of a try the deadline cut off: no answer, and what the try before it got, if one did. */
    const noAnswer = (request: HttpClientRequest.HttpClientRequest, entry: Export) =>
      outOfTime(
        request,
        `no answer within ${exportTimeout}` +
          (entry.last === undefined ? "" : ` (the try before: ${describe(entry.last)})`)
      )

    /**
     * The error of a try due after the deadline (never sent): what the try
     * before it got. A status is failed as Effect's `filterStatusOk` fails
     * it, so the exporter reports it as it would with time to spare; the
     * answer is rebuilt from the status alone (the real one is read and gone),
     * with `Retry-After: 0` so that after a 429 Effect does not pause 5 s
     * before each of the tries left, which fail at once.
     */
    const lastOutcome = (request: HttpClientRequest.HttpClientRequest, entry: Export) => {
      const last = entry.last
      const late = `${exportTimeout} passed before the next try`
      if (last === undefined) return noAnswer(request, entry)
      if (last._tag === "Failure") {
        const description = last.reason.description === undefined ? late : `${last.reason.description}; ${late}`
        return new HttpClientError.HttpClientError({
          reason: new HttpClientError.TransportError({ request, cause: last.reason.cause, description })
        })
      }
      const response = HttpClientResponse.fromWeb(
        request,
        new Response(null, { status: last.status, headers: { "retry-after": "0" } })
      )
      return new HttpClientError.HttpClientError({
        reason: new HttpClientError.StatusCodeError({
          request,
          response,
          description: `non 2xx status code; ${late}`
        })
      })
    }

    /** A transient answer asking for a longer wait than the export has left fails the export now. */
    const checkRetryAfter = (
      endpoint: Endpoint,
      entry: Export,
      response: HttpClientResponse.HttpClientResponse,
      now: number
    ): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError> => {
      if (!HttpClient.isTransientResponse(response)) return Effect.succeed(response)
      const wait = RetryAfter.parse(response.headers["retry-after"], now)
      const left = (entry.deadline ?? now) - now
      if (wait === undefined || wait <= left) return Effect.succeed(response)
      entry.spent = outOfTime(
        response.request,
        `the receiver answered ${response.status} and asked to wait ${seconds(wait)}, more than the ` +
          `${seconds(left)} left of ${exportTimeout}`
      )
      return Effect.andThen(settle(endpoint, entry), Effect.fail(entry.spent))
    }

    return HttpClient.transform(client, (effect, request) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const endpoint = endpointOf(request.url)
        let entry = exports.get(request)
        if (entry === undefined) {
          prune(endpoint, now)
          if (endpoint.pending.size >= options.maxPending) return drop(endpoint, request)
          entry = { deadline: undefined, last: undefined, spent: undefined, settled: false }
          exports.set(request, entry)
          endpoint.pending.add(entry)
        }
        const current = entry
        // Out of time (a retry after the deadline): fails without sending, with what the try before got.
        if (current.spent === undefined && current.deadline !== undefined && current.deadline <= now) {
          current.spent = lastOutcome(request, current)
        }
        if (current.spent !== undefined) {
          return Effect.andThen(settle(endpoint, current), Effect.fail(current.spent))
        }
        const send = Effect.flatMap(Clock.currentTimeMillis, (start) => {
          // The deadline runs from the first try sent, not from the wait for its turn.
          current.deadline ??= start + options.timeout
          return effect.pipe(
            Effect.timeoutOrElse({
              duration: Math.max(0, current.deadline - start),
              orElse: () => {
                current.spent = noAnswer(request, current)
                return Effect.fail(current.spent)
              }
            }),
            Effect.tap((response) =>
              Effect.sync(() => {
                if (HttpClient.isTransientResponse(response)) current.last = { _tag: "Status", status: response.status }
              })
            ),
            Effect.tapError((error) =>
              Effect.sync(() => {
                if (current.spent === undefined && error.reason._tag === "TransportError") {
                  current.last = { _tag: "Failure", error, reason: error.reason }
                }
              })
            ),
            Effect.flatMap((response) =>
              Effect.flatMap(Clock.currentTimeMillis, (end) => checkRetryAfter(endpoint, current, response, end))
            )
          )
        })
        return Semaphore.withPermit(endpoint.permit, send).pipe(
          Effect.onExit((exit) =>
            // Tried again by Effect's exporter (the same export), it stays pending until its deadline.
            current.settled || (mayRetry(exit) && current.spent === undefined) ? Effect.void : settle(endpoint, current)
          )
        )
      }))
  })
