/**
 * RELIABILITY 8: response headers whose values are URLs (`Location`,
 * `Content-Location`, `Refresh`, `Link`) may carry user-info or a token.
 * Recorded in spans (`HttpClient.TracerHeaderFilter`) or shown by a
 * response's `toJSON` and inspection, their URLs are redacted as `url.full` is.
 */
import { assert, it } from "@effect/vitest"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import { TestServer } from "@httpkit/testing"
import { recordingTracer } from "@httpkit/testing/TracingTest"
import { Effect } from "effect"
import { constTrue } from "effect/Function"
import { HttpClient } from "effect/http"
import { inspect } from "node:util"
import { noRetry } from "./support.ts"

it.live("a Location with user-info and ?access_token= is redacted in span attributes (followed or not) and in the response's toJSON", () =>
  Effect.gen(function*() {
    const server = yield* TestServer.make()
    const target = yield* TestServer.make()
    const location =
      `http://alice:PASS-SECRET1@127.0.0.1:${target.port}/echo?access_token=TOKEN-SECRET2&sig=SIG-SECRET3&page=2`
    const url = server.urlFor(`/redirect-to?url=${encodeURIComponent(location)}&status=302`)

    // Followed: the first hop's span records the 302's Location.
    const followed = recordingTracer()
    const client = yield* ResilientClient.make({ retry: noRetry })
    yield* client.get(url).pipe(
      Effect.withTracer(followed.tracer),
      Effect.provideService(HttpClient.TracerHeaderFilter, constTrue)
    )
    const recorded = followed.spans.flatMap((span) =>
      [...span.attributes].filter(([key]) => key === "http.response.header.location").map(([, value]) => String(value))
    )
    assert.deepStrictEqual(recorded, [
      `http://REDACTED@127.0.0.1:${target.port}/echo?access_token=REDACTED&sig=REDACTED&page=2`
    ])

    // Not followed: the 302 is the response; its printed forms redact the Location too.
    const unfollowed = yield* ResilientClient.make({ retry: noRetry, redirects: { follow: false } })
    const response = yield* unfollowed.get(url, { acceptStatus: (status) => status === 302 })
    assert.strictEqual(response.headers["location"], location, "the response itself keeps the header as sent")
    const shown = `${JSON.stringify(response)}\n${inspect(response, { depth: 5 })}\n${String(response)}`
    assert.include(shown, "access_token=REDACTED")
    assert.notMatch(shown, /SECRET\d/)
  }).pipe(Effect.scoped))
