/**
 * Request bodies that a retry or a 307/308 redirect must send again
 * (RELIABILITY 20: a body is never resent empty).
 *
 * Bytes, text, JSON and form bodies are values: every send reads them anew.
 * A stream body (`HttpBody.stream`, `HttpBody.file`) or a raw Node or web
 * stream can be read only as far as its source allows: a one-shot source
 * read once yields nothing, or only its rest, the second time, and the server
 * would take that as the whole upload. Such a body is sent again only when it
 * was never read (the first send failed before its first byte, as when the
 * connection was refused), or when the caller gave a factory (`body: () =>
 * HttpBody`) that makes a fresh one for every send. Otherwise the resend is
 * refused with `BodyNotReplayableError`.
 */
import type * as HttpBody from "effect/http/HttpBody"
import * as HttpBodies from "effect/http/HttpBody"
import * as Stream from "effect/Stream"

/** A body as the caller gives it: a value, or a function making a fresh one for every send. */
export type Input = HttpBody.HttpBody | (() => HttpBody.HttpBody)

/** The bodies of one call's sends, for a body that a resend cannot simply reuse. */
export interface Source {
  /** The body for the next send: the first one, a fresh one from the factory, or the first again if never read. */
  readonly next: () => HttpBody.HttpBody
  /** Whether another send can carry the whole body. */
  readonly replayable: () => boolean
}

/** Whether a raw body is a value every send can read whole (not a stream, iterator or reader). */
const rawIsValue = (body: unknown): boolean =>
  typeof body === "string" ||
  body instanceof Uint8Array ||
  body instanceof ArrayBuffer ||
  ArrayBuffer.isView(body) ||
  (typeof Blob !== "undefined" && body instanceof Blob) ||
  (typeof URLSearchParams !== "undefined" && body instanceof URLSearchParams)

/** Whether every send can reuse `body` as it is. */
const reusable = (body: HttpBody.HttpBody): boolean =>
  body._tag === "Raw" ? rawIsValue(body.body) : body._tag !== "Stream"

/** A stream body that records whether a send has begun reading it. */
const tracked = (body: HttpBody.Stream, onRead: () => void): HttpBody.HttpBody =>
  HttpBodies.stream(
    Stream.suspend(() => {
      onRead()
      return body.stream
    }),
    body.contentType,
    body.contentLength
  )

/**
 * The source of a call's bodies, or `undefined` when the body is a value that
 * every send reuses as it is (the common case, which costs nothing more).
 */
export const make = (input: Input): Made => {
  if (typeof input !== "function" && !HttpBodies.isHttpBody(input)) {
    return {
      problem: `body is ${input === null ? "null" : typeof input}, expected an HttpBody or a function making one`
    }
  }
  if (typeof input !== "function") {
    if (reusable(input)) return { body: input }
    let read = false
    let sends = 0
    const first = input._tag === "Stream" ? tracked(input, () => void (read = true)) : input
    return {
      next: () => {
        sends++
        return first
      },
      // A stream nobody began to read can run again; a raw one-shot body cannot be known unread once handed over.
      replayable: () => sends === 0 || (input._tag === "Stream" && !read)
    }
  }
  // The first body is made now, so that a factory that throws or makes no body is refused before anything is sent.
  const firstMade = made(input)
  if (typeof firstMade === "string") return { problem: firstMade }
  let first: HttpBody.HttpBody | undefined = firstMade
  return {
    next: () => {
      const body = first ?? made(input)
      first = undefined
      // A factory that worked for the first send and fails for a later one: that send's body fails, typed by the transport.
      return typeof body === "string" ? HttpBodies.stream(Stream.fail(new Error(body))) : body
    },
    replayable: () => true
  }
}

/** What a factory makes, or why it is not a body. */
const made = (factory: () => HttpBody.HttpBody): HttpBody.HttpBody | string => {
  let body: unknown
  try {
    body = factory()
  } catch (error) {
    return `the body factory threw ${error instanceof Error ? error.name : typeof error}`
  }
  return HttpBodies.isHttpBody(body)
    ? body
    : `the body factory returned ${body === null ? "null" : typeof body}, not an HttpBody`
}

/**
 * Whether `make` gave a source (a body that needs care on a resend) rather than a reusable body; by own key, so a
 * polluted `Object.prototype.next` does not make every body a source.
 */
export const isSource = (made: Made): made is Source => Object.hasOwn(made, "next")

/** What `make` gives: a source, a body every send reuses, or why the body cannot be sent. */
export type Made = Source | { readonly body: HttpBody.HttpBody } | { readonly problem: string }
