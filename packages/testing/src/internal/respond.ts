/**
 * `HttpServerResponse`'s constructors, given options that cannot inherit.
 *
 * Effect reads `status`, `statusText`, `headers`, `cookies`, `contentType`
 * and `contentLength` from the options object it is given, whether or not
 * they are its own: with `Object.prototype.status` set by other code, every
 * answer built with options would carry that status. These wrappers pin the
 * names as own properties (RELIABILITY 10), so an absent one stays absent.
 */
import type * as Cookies from "effect/http/Cookies"
import type * as Headers from "effect/http/Headers"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import type * as Stream from "effect/Stream"
import { pinned } from "./own.ts"

const optionNames: ReadonlyArray<string> = [
  "status",
  "statusText",
  "headers",
  "cookies",
  "contentType",
  "contentLength"
]

/** What the answers here are built with. */
export interface Options {
  readonly status?: number | undefined
  readonly headers?: Headers.Input | undefined
  readonly cookies?: Cookies.Cookies | undefined
  readonly contentType?: string | undefined
  readonly contentLength?: number | undefined
}

const pin = (options: Options | undefined) => pinned(optionNames, options ?? {})

/** `HttpServerResponse.jsonUnsafe`, its options read by own keys only. */
export const jsonUnsafe = (body: unknown, options?: Options): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.jsonUnsafe(body, pin(options))

/** `HttpServerResponse.text`, its options read by own keys only. */
export const text = (body: string, options?: Options): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.text(body, pin(options))

/** `HttpServerResponse.empty`, its options read by own keys only. */
export const empty = (options?: Options): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.empty(pin(options))

/** `HttpServerResponse.redirect`, its options read by own keys only. */
export const redirect = (location: string | URL, options?: Options): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.redirect(location, pin(options))

/** `HttpServerResponse.stream`, its options read by own keys only. */
export const stream = <E>(
  body: Stream.Stream<Uint8Array, E>,
  options?: Options
): HttpServerResponse.HttpServerResponse => HttpServerResponse.stream(body, pin(options))
