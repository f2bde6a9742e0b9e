/**
 * Moving bytes from responses into the `.part` file: one segment (a byte
 * range of the file, or the whole file) fetched, checked and written, and
 * continued from its last byte when the body breaks.
 *
 * **Details**
 *
 * - Every request goes through `ResilientClient` (auth, breaker, limits,
 *   retries before the body); only a body that breaks mid-way is continued
 *   here, with a `Range` from the segment's next byte and `If-Range`.
 * - What a response may be appended under (RELIABILITY 3 and 4): a `206`
 *   whose `Content-Range` starts at the next byte, ends inside the segment
 *   and announces the known total; the validator the bytes were joined under,
 *   repeated by the `206` itself, and the content coding of the bytes already
 *   written (`Remote.joinChange`: a gzip-encoded `206` after plain bytes is
 *   another representation, whatever its `ETag`). A `200`
 *   to a range request, or changed validators, restart a single stream from
 *   zero (the `200`'s body is used as the new start); in a segment they are
 *   a `RangeNotHonouredError`, and the caller falls back to one stream.
 * - A segment's bytes are counted against its end and against the last byte
 *   its `206` announced: a body that runs past either is cut there and fails
 *   with `BodyLengthError`.
 */
import type * as ResilientClient from "@httpkit/client/ResilientClient"
import * as Effect from "effect/Effect"
import { constVoid } from "effect/Function"
import * as Random from "effect/Random"
import * as Stream from "effect/Stream"
import type { FileHandle } from "node:fs/promises"
import * as Path from "node:path"
import {
  BodyLengthError,
  ContentChangedError,
  type DownloadError,
  InsufficientSpaceError,
  RangeNotHonouredError
} from "../DownloadError.ts"
import * as FileIo from "./fileIo.ts"
import { identity } from "./precheck.ts"
import * as Remote from "./remote.ts"
import * as SizeLimit from "./sizeLimit.ts"
import * as Writer from "./writer.ts"

/** The part of the file one connection fetches: `[start, end)`, `end` unknown for a stream of unknown length. */
export interface Segment {
  readonly start: number
  /** Exclusive; learned from the first `200` of a single stream when the precheck did not tell. */
  end: number | undefined
  /** Bytes of the segment on disk when no writer is active. */
  done: number
  /** The active writer: its `written()` is the segment's progress. */
  writer: Writer.Writer | undefined
}

/** Bytes of `segment` handed to the OS by completed writes. */
export const doneOf = (segment: Segment): number =>
  segment.writer === undefined ? segment.done : segment.writer.written() - segment.start

/** Everything a transfer shares across its segments. */
export interface Context {
  readonly client: ResilientClient.Service
  readonly url: string
  readonly redactedUrl: string
  readonly headers: Readonly<Record<string, string>>
  readonly handle: FileHandle
  readonly partPath: string
  /** Held before each write: the `.part`'s lock confirmed after a long stall (`PartLock.beforeWrite`). */
  readonly beforeWrite: () => Promise<void> | undefined
  readonly writeBatch: number
  readonly restartOnChange: boolean
  readonly maxRestarts: number
  readonly maxStalls: number
  /** The largest file taken (`maxBytes`); `undefined`: no limit. */
  readonly maxBytes: number | undefined
  readonly backoff: { readonly minDelay: number; readonly maxDelay: number; readonly multiplier: number }
  /** What the server said about the file; updated when a single stream restarts on new content. */
  known: Remote.Remote
  /** One stream for the whole file (which may restart from zero), or one of several segments (which may not). */
  single: boolean
  /** Called with the number of new bytes, as they arrive. */
  readonly onBytes: (bytes: number) => void
  /** Called after a restart from zero. */
  readonly onRestart: () => void
  restarts: number
  continuations: number
  transferred: number
}

/** Whether a segment has all its bytes. */
const complete = (segment: Segment): boolean =>
  segment.end !== undefined && doneOf(segment) >= segment.end - segment.start

const rangeHeader = (from: number, end: number | undefined): string =>
  `bytes=${from}-${end === undefined ? "" : end - 1}`

/** The reply to one request, judged: what to write and from where, or why not. */
type Verdict =
  /** Bytes to write from the next one; `last` is the last byte a `206` announced (its body must stop there). */
  | { readonly _tag: "Append"; readonly last?: number }
  | { readonly _tag: "FromZero"; readonly reason: string }
  | { readonly _tag: "Complete" }
  | { readonly _tag: "Restart"; readonly reason: string }

/** Statuses with a body to judge; any other becomes the client's typed error for it (404, 401, 5xx...). */
const bodyStatus = (status: number): boolean => (status >= 200 && status < 300) || status === 416

/**
 * Judges a response to a request for `[from, end)` of a segment that starts
 * at `start`; fails on anything that cannot be written at the right place.
 */
const judge = (
  context: Context,
  segment: Segment,
  from: number,
  response: ResilientClient.ClientResponse
): Effect.Effect<Verdict, DownloadError> => {
  const requested = rangeHeader(from, segment.end)
  const now = Remote.fromResponse(response.status, response.headers)
  const { single } = context
  if (response.status === 416) {
    const range = Remote.parseContentRange(response.headers["content-range"] as string | undefined)
    // The part already holds the whole file: a 416 for the byte after its end, with that same total.
    if (range?.kind === "unsatisfied" && range.total === from && (context.known.size ?? from) === from) {
      return Effect.succeed({ _tag: "Complete" })
    }
    return Effect.succeed({ _tag: "Restart", reason: "the server refused the range (416)" })
  }
  if (response.status === 200) {
    // A 200 completes a single stream from zero. A segment (the first one too) asked for a range: a 200 sends the
    // whole file, so it is a range not honoured, decided on the status before any byte is written, whichever
    // segment's answer comes first.
    if (single && from === 0 && segment.start === 0) {
      const change = Remote.changeBetween(context.known, now)
      return Effect.succeed(change === undefined ? { _tag: "Append" } : { _tag: "FromZero", reason: change })
    }
    if (!single) {
      return Effect.fail(
        new RangeNotHonouredError({ url: context.redactedUrl, retryable: false, requested, received: "200" })
      )
    }
    return Effect.succeed({ _tag: "FromZero", reason: "the server answered 200 to a range request" })
  }
  if (response.status !== 206) {
    return Effect.fail(
      new RangeNotHonouredError({
        url: context.redactedUrl,
        retryable: false,
        requested,
        received: String(response.status)
      })
    )
  }
  const received = response.headers["content-range"]
  const range = Remote.parseContentRange(received as string | undefined)
  const wrong = () =>
    new RangeNotHonouredError({
      url: context.redactedUrl,
      retryable: false,
      requested,
      received: typeof received === "string" ? received : "206 without Content-Range"
    })
  if (range?.kind !== "range" || range.first !== from) return Effect.fail(wrong())
  if (segment.end !== undefined && range.last >= segment.end) return Effect.fail(wrong())
  if (context.known.size !== undefined && range.total !== undefined && range.total !== context.known.size) {
    return Effect.succeed({
      _tag: "Restart",
      reason: `the length changed from ${context.known.size} to ${range.total} bytes`
    })
  }
  const change = Remote.joinChange(context.known, now)
  return Effect.succeed(
    change === undefined ? { _tag: "Append", last: range.last } : { _tag: "Restart", reason: change }
  )
}

/** Counts a restart from zero, or fails when restarts are not allowed or used up. */
const countRestart = (context: Context, reason: string): Effect.Effect<void, ContentChangedError> => {
  if (!context.restartOnChange) {
    return Effect.fail(new ContentChangedError({ url: context.redactedUrl, retryable: false, reason }))
  }
  if (context.restarts >= context.maxRestarts) {
    return Effect.fail(
      new ContentChangedError({
        url: context.redactedUrl,
        retryable: true,
        reason: `${reason}, after ${context.restarts} restarts from zero`
      })
    )
  }
  context.restarts++
  return Effect.void
}

/** Empties the file and starts the single stream's state over. */
const resetToZero = (context: Context, segment: Segment): Effect.Effect<void, DownloadError> =>
  Effect.gen(function*() {
    segment.writer = undefined
    segment.done = 0
    yield* FileIo.attempt(context.redactedUrl, "truncate", context.partPath, () => context.handle.truncate(0))
    context.onRestart()
  })

/**
 * Fails with `InsufficientSpaceError` when the folder has no room for a
 * single stream's `size` bytes: the length a `200` or `206` told, when the
 * precheck (which checked the room for its own figure) did not know it or
 * knew a smaller one.
 */
const ensureRoom = (context: Context, size: number, before: number | undefined): Effect.Effect<void, DownloadError> => {
  if (before !== undefined && size <= before) return Effect.void
  const folder = Path.dirname(context.partPath)
  return Effect.flatMap(FileIo.availableBytes(context.redactedUrl, folder), (available) =>
    size <= available
      ? Effect.void
      : Effect.fail(
        new InsufficientSpaceError({
          url: context.redactedUrl,
          retryable: false,
          path: folder,
          needed: size,
          available
        })
      ))
}

/** Why a pass ended without the segment's bytes. */
type PassEnd =
  | { readonly _tag: "Done" }
  /** A range of a file of unknown length arrived whole: the next bytes are asked for at once. */
  | { readonly _tag: "More" }
  | { readonly _tag: "Broken"; readonly error: DownloadError; readonly progressed: boolean }
  | { readonly _tag: "Restart"; readonly reason: string }

/** Whether an error met while reading a body may be continued with a new range request. */
const continuable = (error: DownloadError): boolean => error._tag === "ConnectionError" || error._tag === "TimeoutError"

/** One request and its body, written from the segment's next byte. */
const pass = (context: Context, segment: Segment): Effect.Effect<PassEnd, DownloadError> =>
  Effect.gen(function*() {
    const from = segment.start + doneOf(segment)
    if (from > segment.start && context.single && !Remote.joinable(context.known)) {
      return { _tag: "Restart", reason: "the server has no strong validator, so bytes cannot be joined" } as const
    }
    const headers: Record<string, string> = { ...context.headers, ...identity }
    const validator = Remote.ifRangeOf(context.known)
    if (from > 0 || !context.single) {
      headers.range = rangeHeader(from, segment.end)
      if (validator !== undefined) headers["if-range"] = validator
    }
    const response = yield* context.client.get(context.url, { headers, acceptStatus: bodyStatus })
    const verdict = yield* judge(context, segment, from, response)
    if (verdict._tag === "Complete") return { _tag: "Done" } as const
    if (verdict._tag === "Restart") return { _tag: "Restart", reason: verdict.reason } as const
    let start = from
    if (verdict._tag === "FromZero") {
      if (from > 0) {
        yield* countRestart(context, verdict.reason)
        yield* resetToZero(context, segment)
      }
      start = 0
      const before = context.known.size
      context.known = Remote.fromResponse(200, response.headers)
      segment.end = context.known.size
      yield* SizeLimit.checkAnnounced(context.redactedUrl, context.maxBytes, segment.end)
      if (segment.end !== undefined) yield* ensureRoom(context, segment.end, before)
    }
    if (verdict._tag === "Append" && response.status === 200) {
      // The bytes come from this answer: later ranges are joined under its validators and its content coding,
      // not the precheck's; and when the precheck did not learn the length, the 200 tells it.
      const now = Remote.fromResponse(200, response.headers)
      context.known = { ...context.known, etag: now.etag, lastModified: now.lastModified, coding: now.coding }
      if (segment.end === undefined && now.size !== undefined) {
        yield* SizeLimit.checkAnnounced(context.redactedUrl, context.maxBytes, now.size)
        yield* ensureRoom(context, now.size, undefined)
        segment.end = now.size
        context.known = { ...context.known, size: now.size }
      }
    }
    if (context.single && segment.end === undefined && context.known.size === undefined) {
      // A stream of unknown length resumed: the 206 tells the length.
      const total = Remote.fromResponse(response.status, response.headers).size
      if (total !== undefined) {
        yield* SizeLimit.checkAnnounced(context.redactedUrl, context.maxBytes, total)
        yield* ensureRoom(context, total - from, undefined)
        segment.end = total
        context.known = { ...context.known, size: total }
      }
    }
    // The body: written at `start`, never past the segment's end.
    const writer = Writer.make(context.handle, start, context.writeBatch, context.beforeWrite)
    segment.writer = writer
    // Never past the segment's end, nor past the last byte a 206 announced.
    const announced = verdict._tag === "Append" && verdict.last !== undefined ? verdict.last + 1 : undefined
    const limit = Math.min(segment.end ?? Number.POSITIVE_INFINITY, announced ?? Number.POSITIVE_INFINITY)
    // And never past `maxBytes` (a body of unknown length): counted before the writer gets the bytes, so the file
    // never holds more than the limit.
    const maxBytes = context.maxBytes ?? Number.POSITIVE_INFINITY
    const before = writer.written()
    let tooLong = false
    /** The bytes that had come when a chunk would pass `maxBytes`. */
    let overLimit: number | undefined
    const consumed = yield* response.stream.pipe(
      Stream.runForEachArray((chunks): Effect.Effect<void, DownloadError> => {
        // Every wait the writer asks for in this batch: a failed write rejects them all.
        let waits: Array<Promise<void>> | undefined
        for (let chunk of chunks) {
          const room = limit - writer.received()
          const allowed = maxBytes - writer.received()
          if (chunk.byteLength > allowed && allowed < room) {
            overLimit = writer.received() + chunk.byteLength
            chunk = chunk.subarray(0, Math.max(0, allowed))
          } else if (chunk.byteLength > room) {
            tooLong = true
            chunk = chunk.subarray(0, Math.max(0, room))
          }
          if (chunk.byteLength > 0) {
            context.transferred += chunk.byteLength
            context.onBytes(chunk.byteLength)
            const pending = writer.push(chunk)
            if (pending !== undefined) (waits ??= []).push(pending)
          }
          if (tooLong || overLimit !== undefined) break
        }
        const all = waits === undefined ? undefined : Promise.all(waits)
        // Handled at once, so no rejection goes unhandled: a failed write is reported through `all` below, or by the
        // writer's flush after the body when the body is cut short here.
        all?.catch(constVoid)
        if (overLimit !== undefined) return Effect.fail(SizeLimit.passed(context.redactedUrl, maxBytes, overLimit))
        if (tooLong) {
          return Effect.fail(
            new BodyLengthError({
              url: context.redactedUrl,
              retryable: false,
              expected: limit - start,
              received: limit - start + 1
            })
          )
        }
        if (all === undefined) return Effect.void
        return Effect.asVoid(FileIo.attempt(context.redactedUrl, "write", context.partPath, () => all))
      }),
      Effect.result
    )
    yield* FileIo.attempt(context.redactedUrl, "write", context.partPath, () => writer.flush())
    // A connection broken after a few bytes is no progress: a server (or link) that cuts every body
    // after a byte must not cost a request per byte.
    const progressed = writer.written() - before >= progressBytes
    if (consumed._tag === "Failure") {
      const error = consumed.failure
      if (!continuable(error)) return yield* Effect.fail(error)
      return { _tag: "Broken", error, progressed } as const
    }
    if (segment.end === undefined) {
      // A 200's clean end is the file's end. A 206 (`Content-Range: bytes a-b/*`, the length unknown) ends at
      // its range: the rest, if any, is asked for next, until a 416 says the file ends there.
      if (response.status !== 206) return { _tag: "Done" } as const
      if (writer.written() >= limit) return { _tag: "More" } as const
      return {
        _tag: "Broken",
        error: new BodyLengthError({
          url: context.redactedUrl,
          retryable: true,
          expected: limit - start,
          received: writer.written() - start
        }),
        progressed
      } as const
    }
    if (complete(segment)) return { _tag: "Done" } as const
    // The body ended cleanly before the segment's end: never taken as complete, continued like a broken one.
    return {
      _tag: "Broken",
      error: new BodyLengthError({
        url: context.redactedUrl,
        retryable: true,
        expected: segment.end - start,
        received: writer.written() - start
      }),
      progressed
    } as const
  })

/**
 * The bytes a broken body must have brought to count as progress (and reset
 * the count of broken bodies in a row): 64 KiB.
 */
export const progressBytes = 64 * 1024

/** The delay before continuing after the `stalls`-th broken body without progress: exponential, full jitter. */
const delayFor = (context: Context, stalls: number): Effect.Effect<number> => {
  const { maxDelay, minDelay, multiplier } = context.backoff
  const step = Math.min(maxDelay, minDelay * multiplier ** Math.max(0, stalls - 1))
  return Effect.map(Random.next, (r) => Math.floor(r * step))
}

/**
 * Fetches a segment until it has all its bytes: broken bodies are continued
 * from the last byte written, after a delay that grows while they bring less
 * than `progressBytes`; `maxStalls` broken bodies in a row without progress
 * fail with the last error. A restart (the file changed) empties a single stream and
 * starts over, or fails a segment with `RangeNotHonouredError`.
 */
export const fetchSegment = (context: Context, segment: Segment): Effect.Effect<void, DownloadError> =>
  Effect.gen(function*() {
    let stalls = 0
    // An empty file announced by a HEAD is still fetched once: a HEAD may lie, and the GET's length is the truth.
    let unconfirmed = context.single && segment.end === 0 && doneOf(segment) === 0
    while (unconfirmed || !complete(segment)) {
      unconfirmed = false
      const end = yield* pass(context, segment)
      if (end._tag === "Done") return
      if (end._tag === "More") {
        stalls = 0
        continue
      }
      if (end._tag === "Restart") {
        if (!context.single) {
          return yield* Effect.fail(
            new RangeNotHonouredError({
              url: context.redactedUrl,
              retryable: false,
              requested: rangeHeader(segment.start + doneOf(segment), segment.end),
              received: end.reason
            })
          )
        }
        yield* countRestart(context, end.reason)
        yield* resetToZero(context, segment)
        // The next request is a plain GET; its 200 tells the length again.
        segment.end = undefined
        continue
      }
      stalls = end.progressed ? 1 : stalls + 1
      if (stalls >= context.maxStalls) return yield* Effect.fail(end.error)
      context.continuations++
      yield* Effect.sleep(yield* delayFor(context, stalls))
    }
  })
