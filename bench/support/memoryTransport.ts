/**
 * An Effect `HttpClient` that answers every request at once with the payload,
 * as a web `Response` (so Effect's own response type), without a socket: what
 * a client's pipeline costs by itself, with no network noise.
 */
import { Effect } from "effect"
import { HttpClient, HttpClientResponse } from "effect/http"
import { body } from "./payload.ts"

/** The in-memory transport: a 200 with the payload and its `content-length` for any request. */
export const memoryTransport: HttpClient.HttpClient = HttpClient.make((request) =>
  Effect.succeed(
    HttpClientResponse.fromWeb(request, new Response(body, { headers: { "content-length": String(body.length) } }))
  )
)
