import { assert, it } from "@effect/vitest"
import * as TestServer from "@httpkit/testing/TestServer"
import { recordingTracer } from "@httpkit/testing/TracingTest"
import { Effect } from "effect"
import * as Auth from "../src/Auth.ts"
import * as ResilientClient from "../src/ResilientClient.ts"

it.live("no secret reaches a span attribute, an error or a log: headers, auth, query tokens, user-info", () =>
  Effect.gen(function*() {
    const server = yield* TestServer.make()
    const { spans, tracer } = recordingTracer()
    const client = yield* ResilientClient.make({
      baseUrl: server.url,
      retry: { maxAttempts: 1 },
      secretHeaders: ["x-internal-secret"]
    }).pipe(Effect.provide(Auth.layerApiKey("x-service-key", "svc-key-SECRET1")))
    const url = `/status/503?access_token=tok-SECRET2&page=2`
    const error = yield* Effect.flip(
      client.get(url, {
        headers: { "x-internal-secret": "hdr-SECRET3", authorization: "Bearer bear-SECRET4", cookie: "sid=ck-SECRET5" }
      }).pipe(Effect.withTracer(tracer))
    )
    // The request really carried the secrets...
    const [seen] = yield* server.requests
    assert.strictEqual(seen!.headers["x-internal-secret"], "hdr-SECRET3")
    assert.strictEqual(seen!.headers["x-service-key"], "svc-key-SECRET1")
    // ...but no span attribute, nor the error, shows any of them.
    const attributes = spans.flatMap((span) =>
      [...span.attributes.entries()].map(([key, value]) => `${key}=${String(value)}`)
    )
    assert.isAbove(attributes.length, 3)
    assert.isTrue(attributes.some((entry) => entry.includes("page=2") || entry.includes("/status/503")))
    const everything = [...attributes, error.message, String(error), JSON.stringify(error)].join("\n")
    assert.notMatch(everything, /SECRET\d/)
  }).pipe(Effect.scoped))
