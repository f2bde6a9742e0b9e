/**
 * Reading response bodies within limits: a maximum size for buffered reads
 * and an idle deadline between chunks, with transport failures mapped to the
 * client's errors. A body that ends before its `Content-Length`, or a chunked
 * body without its end, fails (RELIABILITY 5); it never reads as complete.
 *
 * With our undici dispatcher the idle deadline is timed in the request's
 * dispatch handler (`deadlineHandler.ts`); over any other transport it is timed
 * here.
 *
 * A buffered read is also bounded by the attempt's deadline (RELIABILITY 12),
 * even when it runs after the call returned (`ClientResponse.text`, `json`,
 * `bytes`): a body that trickles a byte at a time, never idle for long, still
 * ends. A stream handed to the caller keeps only the idle deadline.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { type ClientError, ResponseTooLargeError, TimeoutError } from "../ClientError.ts"
import type { Received } from "./attempt.ts"
import * as Deadline from "./deadline.ts"
import { fromTransport } from "./failure.ts"

const causeOf = (error: unknown): unknown => (error as { reason?: { cause?: unknown } }).reason?.cause ?? error

const idleTimeout = (received: Received) =>
  new TimeoutError({ ...received.context, retryable: true, phase: "idle", timeoutMillis: received.deadlines.idle })

const mapFailure = (received: Received) => (error: unknown) =>
  fromTransport(causeOf(error), received.context, received.deadlines)

/**
 * `read` (a buffered read of a `ClientResponse` body, after the call returned) within what is left of the
 * attempt's deadline: the transport's own timer, held for it by the response and released when the read ends,
 * or an Effect timer over any other transport. Fails with the attempt's `TimeoutError` (phase `attempt` or `total`).
 */
export const withinAttempt = <A>(
  received: Received,
  read: Effect.Effect<A, ClientError>
): Effect.Effect<A, ClientError> => {
  const native = received.nativeDeadline
  if (native !== undefined) {
    return Effect.onExitPrimitive(read, () => {
      native.release()
      return undefined
    })
  }
  const { phase, timeoutMillis } = received.deadlines.attempt
  return Effect.flatMap(Clock.currentTimeMillis, (now) =>
    Deadline.timeoutOrElse(
      read,
      Math.max(0, received.endsAt - now),
      () => Effect.fail(new TimeoutError({ ...received.context, retryable: phase === "attempt", phase, timeoutMillis }))
    ))
}

/** Drops a body unread: its stream is started and interrupted at once, which aborts it (no byte is read to its end). */
export const abandon = (received: Received): Effect.Effect<void> =>
  received.response.stream.pipe(Stream.runDrain, Effect.timeout(0), Effect.ignore)

/** The body as a stream that fails on an idle gap or a broken connection. */
export const stream = (received: Received): Stream.Stream<Uint8Array, ClientError> => {
  const body = Stream.mapError(received.response.stream, mapFailure(received))
  return received.transportDeadlines
    ? body
    : Stream.timeoutOrElse(body, {
      duration: received.deadlines.idle,
      orElse: () => Stream.fail(idleTimeout(received))
    })
}

/**
 * `body`, failing with `refused`'s error once it holds more
 * than `length` bytes or ends with fewer: a 206 streamed without a
 * `Content-Length` must hold exactly what its `Content-Range` says.
 */
export const exactLength = <E>(
  body: Stream.Stream<Uint8Array, E>,
  length: number,
  refused: (issue: string) => E
): Stream.Stream<Uint8Array, E> =>
  Stream.suspend(() => {
    let seen = 0
    const counted = Stream.mapEffect(body, (chunk) => {
      seen += chunk.byteLength
      return seen > length
        ? Effect.fail(refused(`the 206 body holds more than the ${length} bytes of its Content-Range`))
        : Effect.succeed(chunk)
    })
    const ended = Stream.fromEffectDrain(Effect.suspend(() =>
      seen < length
        ? Effect.fail(refused(`the 206 body ended after ${seen} of the ${length} bytes of its Content-Range`))
        : Effect.void
    ))
    return Stream.concat(counted, ended)
  })

/**
 * The whole body, at most `maxBytes` (an `ArrayBuffer` when its length is
 * known, else the joined chunks), handed to `then`: a known length is read and
 * handed on in one step.
 */
const whole = <A, R>(
  received: Received,
  maxBytes: number,
  then: (body: ArrayBuffer | Uint8Array) => Effect.Effect<A, ClientError, R>
): Effect.Effect<A, ClientError, R> => {
  const { response } = received
  const tooLarge = () =>
    new ResponseTooLargeError({ ...received.context, retryable: false, status: response.status, maxBytes })
  const declared = received.headers["content-length"]
  const length = declared === undefined ? undefined : Number(declared)
  if (length !== undefined && length > maxBytes) {
    // Not read at all; the connection is released when the response is dropped.
    return Effect.andThen(
      response.stream.pipe(Stream.runDrain, Effect.timeout(0), Effect.ignore),
      Effect.fail(tooLarge())
    )
  }
  if (length !== undefined && Number.isSafeInteger(length)) {
    // A known, allowed length: read it in one go (undici checks the length and enforces the idle deadline).
    if (received.transportDeadlines) {
      return Effect.matchEffect(response.arrayBuffer, {
        onFailure: (error) => Effect.fail(mapFailure(received)(error)),
        onSuccess: then
      })
    }
    return Effect.flatMap(
      Deadline.timeoutOrElse(
        Effect.mapError(response.arrayBuffer, mapFailure(received)),
        received.deadlines.idle,
        () => Effect.fail(idleTimeout(received))
      ),
      then
    )
  }
  return Effect.flatMap(
    Effect.suspend(() => {
      const chunks: Array<Uint8Array> = []
      let total = 0
      return stream(received).pipe(
        Stream.runForEachArray((array) => {
          for (const chunk of array) {
            total += chunk.byteLength
            if (total > maxBytes) return Effect.fail(tooLarge())
            chunks.push(chunk)
          }
          return Effect.void
        }),
        Effect.map(() => {
          if (chunks.length === 1) return chunks[0]!
          const out = new Uint8Array(total)
          let offset = 0
          for (const chunk of chunks) {
            out.set(chunk, offset)
            offset += chunk.byteLength
          }
          return out
        })
      )
    }),
    then
  )
}

/** The whole body, at most `maxBytes`. */
export const bytes = (received: Received, maxBytes: number): Effect.Effect<Uint8Array, ClientError> =>
  whole(received, maxBytes, (body) => Effect.succeed(body instanceof Uint8Array ? body : new Uint8Array(body)))

const decoder = new TextDecoder()

/** The whole body as UTF-8 text, at most `maxBytes`, handed to `then`. */
export const textThen = <A, R>(
  received: Received,
  maxBytes: number,
  then: (text: string) => Effect.Effect<A, ClientError, R>
): Effect.Effect<A, ClientError, R> => whole(received, maxBytes, (body) => then(decoder.decode(body)))

/** The whole body as UTF-8 text, at most `maxBytes`. */
export const text = (received: Received, maxBytes: number): Effect.Effect<string, ClientError> =>
  textThen(received, maxBytes, Effect.succeed)
