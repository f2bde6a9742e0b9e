/**
 * The precheck before a download: `HEAD` for the length, the validators and
 * `Accept-Ranges`. Where `HEAD` is refused (405, 501 or any other error
 * status) or says nothing useful (no length), a ranged `GET` of one byte
 * (`bytes=0-0`) asks again; its `Content-Range` carries the length. The body
 * of that `GET` is dropped unread (one byte, or a whole body the server sent
 * in spite of the range, which is not read).
 *
 * The precheck's answer is a hint: every later response is checked against
 * it, and a disagreement (a `HEAD` that lied) is handled like a change.
 */
import type * as ClientError from "@httpkit/client/ClientError"
import type * as ResilientClient from "@httpkit/client/ResilientClient"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Remote from "./remote.ts"

/** Headers every downloader request carries: the stored bytes are the bytes sent, never decoded. */
export const identity = { "accept-encoding": "identity" } as const

const anyStatus = (): boolean => true

const unknown: Remote.Remote = {
  size: undefined,
  etag: undefined,
  lastModified: undefined,
  acceptsRanges: false,
  contentDisposition: undefined,
  coding: Remote.identity
}

/** Drops a response's body without reading it (the connection is released or closed). */
const drop = (response: ResilientClient.ClientResponse): Effect.Effect<void> =>
  Effect.ignore(Effect.timeout(Stream.runDrain(response.stream), 0))

/**
 * What the server says about the file at `url`. A status that the client
 * maps to an error on `GET` as well (404, 401, 5xx after retries) fails here
 * with that error, so a missing file fails before anything is opened.
 */
export const precheck = (
  client: ResilientClient.Service,
  url: string,
  headers: Readonly<Record<string, string>>
): Effect.Effect<Remote.Remote, ClientError.ClientError> =>
  Effect.gen(function*() {
    const head = yield* client.head(url, { headers: { ...headers, ...identity }, acceptStatus: anyStatus })
    if (head.status >= 200 && head.status < 300) {
      const remote = Remote.fromResponse(head.status === 206 ? 206 : 200, head.headers)
      if (remote.size !== undefined) return remote
    }
    // HEAD refused or silent about the length: one ranged byte.
    const probe = yield* client.get(url, { headers: { ...headers, ...identity, range: "bytes=0-0" } })
    yield* drop(probe)
    if (probe.status === 206 || probe.status === 200) return Remote.fromResponse(probe.status, probe.headers)
    return unknown
  })
