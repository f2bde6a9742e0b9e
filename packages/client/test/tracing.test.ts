/**
 * The client's spans (OpenTelemetry HTTP client conventions) over real
 * sockets against the fault-injection server: one span per call with a
 * client span per request sent, their attributes and events, the
 * `traceparent` the server received, and tracing turned off.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Auth from "@httpkit/client/Auth"
import * as BrowserProfile from "@httpkit/client/BrowserProfile"
import * as ClientConfig from "@httpkit/client/ClientConfig"
import * as RateLimitHook from "@httpkit/client/RateLimitHook"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import * as ServerControl from "@httpkit/testing/ServerControl"
import * as TestServer from "@httpkit/testing/TestServer"
import { recordingTracer } from "@httpkit/testing/TracingTest"
import { ConfigProvider, Deferred, Effect, Fiber, Option, Tracer } from "effect"
import { constTrue } from "effect/Function"
import { FetchHttpClient, HttpClient, HttpTraceContext } from "effect/http"
import { TestClock } from "effect/testing"
import { inspect } from "node:util"
import { failsWith, noRetry } from "./support.ts"

type Recorded = ReturnType<typeof recordingTracer>

/** A recorded span's events: `[name, time, attributes]`. */
const eventsOf = (span: Tracer.Span) => (span as Tracer.NativeSpan).events

const parentOf = (span: Tracer.Span) => Option.getOrUndefined(span.parent)

/** The one call span of a recording, and its client spans in the order they started. */
const callSpans = ({ spans }: Recorded, name = "HTTP GET") => {
  const calls = spans.filter((span) => span.name === name)
  assert.strictEqual(calls.length, 1, `one ${name} span, got ${spans.map((span) => span.name).join(", ")}`)
  const call = calls[0]!
  const requests = spans.filter((span) => span.kind === "client" && parentOf(span) === call)
  return { call, requests }
}

const attribute = (span: Tracer.Span, key: string) => span.attributes.get(key)

/** The trace id and parent span id of a `traceparent` header. */
const traceparent = (header: string | undefined) => {
  const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/.exec(header ?? "")
  assert.isNotNull(match, `a traceparent, got ${String(header)}`)
  return { traceId: match![1]!, parentId: match![2]! }
}

/** Every string a span holds: its name, attributes, events and their attributes, and its exit. */
const everything = (spans: ReadonlyArray<Tracer.Span>): string =>
  spans.map((span) =>
    [
      span.name,
      ...[...span.attributes].map(([key, value]) => `${key}=${String(value)}`),
      ...eventsOf(span).map(([name, , attributes]) => `${name} ${JSON.stringify(attributes)}`),
      span.status._tag === "Ended" ? String(span.status.exit) : ""
    ].join("\n")
  ).join("\n")

/** The client's configuration read from `env` as the environment. */
const fromEnv = (env: Record<string, string>) =>
  ClientConfig.fromConfig().pipe(
    Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnvRecord(env))
  )

describe("ResilientClient tracing", () => {
  it.live(
    "two 503s then a 200: one HTTP GET span (caller's child) with three GET children, resend_count absent/1/2, statuses 503/503/200; each traceparent names its own span",
    () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make()
        yield* ServerControl.make(server.url).failNext(2, { status: 503 })
        const recorded = recordingTracer()
        const client = yield* ResilientClient.make({
          name: "orders",
          retry: { maxAttempts: 3, minDelay: 10, maxDelay: 10, jitter: false }
        })
        const response = yield* client.get(server.urlFor("/msg")).pipe(
          Effect.withSpan("caller"),
          Effect.withTracer(recorded.tracer)
        )
        assert.strictEqual(response.attempt, 3)

        const caller = recorded.spans.find((span) => span.name === "caller")!
        const { call, requests } = callSpans(recorded)
        assert.strictEqual(parentOf(call), caller)
        assert.strictEqual(call.kind, "internal")
        assert.strictEqual(attribute(call, "http.request.method"), "GET")
        assert.strictEqual(attribute(call, "url.full"), server.urlFor("/msg"))
        assert.strictEqual(attribute(call, "server.address"), "127.0.0.1")
        assert.strictEqual(attribute(call, "server.port"), server.port)
        assert.strictEqual(attribute(call, "http.response.status_code"), 200)
        assert.strictEqual(attribute(call, "http.request.resend_count"), 2)
        assert.strictEqual(attribute(call, "httpkit.client.name"), "orders")
        assert.isUndefined(attribute(call, "error.type"))
        assert.strictEqual(call.status._tag, "Ended")

        assert.deepStrictEqual(requests.map((span) => span.name), ["GET", "GET", "GET"])
        assert.deepStrictEqual(requests.map((span) => attribute(span, "http.request.resend_count")), [
          undefined,
          1,
          2
        ])
        assert.deepStrictEqual(requests.map((span) => attribute(span, "http.response.status_code")), [503, 503, 200])
        assert.deepStrictEqual(requests.map((span) => attribute(span, "error.type")), ["503", "503", undefined])
        assert.deepStrictEqual(
          requests.map((span) => span.status._tag === "Ended" ? span.status.exit._tag : "open"),
          ["Failure", "Failure", "Success"]
        )
        for (const span of requests) assert.strictEqual(attribute(span, "url.full"), server.urlFor("/msg"))

        // Two retries, each an event with its reason and delay.
        const retries = eventsOf(call).filter(([name]) => name === "httpkit.retry")
        assert.deepStrictEqual(retries.map(([, , attributes]) => attributes), [
          { "httpkit.attempt": 1, "httpkit.retry.reason": "ServiceUnavailableError", "httpkit.retry.delay_ms": 10 },
          { "httpkit.attempt": 2, "httpkit.retry.reason": "ServiceUnavailableError", "httpkit.retry.delay_ms": 10 }
        ])

        // The server saw, on each attempt, the call's trace and that attempt's span as parent.
        const seen = yield* server.requestsTo("/msg")
        assert.strictEqual(seen.length, 3)
        seen.forEach((request, index) => {
          const header = traceparent(request.headers["traceparent"])
          assert.strictEqual(header.traceId, call.traceId)
          assert.strictEqual(header.traceId, caller.traceId)
          assert.strictEqual(header.parentId, requests[index]!.spanId)
          // Written as Effect's own `HttpTraceContext.toHeaders` writes them.
          const expected = HttpTraceContext.toHeaders(requests[index]!)
          assert.strictEqual(request.headers["traceparent"], expected["traceparent"])
          assert.strictEqual(request.headers["b3"], expected["b3"])
        })
      }).pipe(Effect.scoped)
  )

  it.live("a 2-hop redirect: GET spans 302/302/200 with resend_count absent/1/2, each hop's own traceparent", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const recorded = recordingTracer()
      const client = yield* ResilientClient.make({ retry: noRetry })
      yield* client.get(server.urlFor("/redirect/2?to=/echo")).pipe(Effect.withTracer(recorded.tracer))
      const { call, requests } = callSpans(recorded)
      assert.deepStrictEqual(requests.map((span) => attribute(span, "http.response.status_code")), [302, 302, 200])
      assert.deepStrictEqual(requests.map((span) => attribute(span, "http.request.resend_count")), [undefined, 1, 2])
      assert.deepStrictEqual(requests.map((span) => attribute(span, "url.full")), [
        server.urlFor("/redirect/2?to=/echo"),
        server.urlFor("/redirect/1?to=%2Fecho"),
        server.urlFor("/echo")
      ])
      assert.isTrue(requests.every((span) => span.status._tag === "Ended" && span.status.exit._tag === "Success"))
      assert.strictEqual(attribute(call, "http.response.status_code"), 200)
      assert.strictEqual(attribute(call, "http.request.resend_count"), 2)
      const seen = yield* server.requests
      assert.deepStrictEqual(
        seen.map((request) => traceparent(request.headers["traceparent"]).parentId),
        requests.map((span) => span.spanId)
      )
    }).pipe(Effect.scoped))

  it.live("timeouts and a reset connection: error.type TimeoutError (phase attempt, headers) and ConnectionError", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* ResilientClient.make({ retry: noRetry })
      const run = Effect.fnUntraced(function*(url: string, options: ResilientClient.RequestOptions, tag: string) {
        const recorded = recordingTracer()
        yield* failsWith(client.get(url, options).pipe(Effect.withTracer(recorded.tracer)), tag)
        return callSpans(recorded)
      })

      const attempt = yield* run(`${server.rawUrl}/hang?hold=10000`, { timeout: { attempt: 200 } }, "TimeoutError")
      assert.strictEqual(attribute(attempt.call, "error.type"), "TimeoutError")
      assert.strictEqual(attempt.requests.length, 1)
      assert.strictEqual(attribute(attempt.requests[0]!, "error.type"), "TimeoutError")
      assert.strictEqual(attribute(attempt.requests[0]!, "httpkit.timeout.phase"), "attempt")
      assert.isUndefined(attribute(attempt.requests[0]!, "http.response.status_code"))
      assert.strictEqual(attempt.call.status._tag === "Ended" && attempt.call.status.exit._tag, "Failure")

      const headers = yield* run(
        `${server.rawUrl}/slow-headers?delay=10000`,
        { timeout: { headers: 200 } },
        "TimeoutError"
      )
      assert.strictEqual(attribute(headers.requests[0]!, "error.type"), "TimeoutError")
      assert.strictEqual(attribute(headers.requests[0]!, "httpkit.timeout.phase"), "headers")

      const reset = yield* run(`${server.rawUrl}/reset`, {}, "ConnectionError")
      assert.strictEqual(attribute(reset.call, "error.type"), "ConnectionError")
      assert.strictEqual(attribute(reset.requests[0]!, "error.type"), "ConnectionError")
    }).pipe(Effect.scoped))

  it.live("a 503 that fails the call: error.type 503 on both spans, the call span ended as a failure", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const recorded = recordingTracer()
      const client = yield* ResilientClient.make({ retry: noRetry })
      yield* failsWith(
        client.get(server.urlFor("/status/503")).pipe(Effect.withTracer(recorded.tracer)),
        "ServiceUnavailableError"
      )
      const { call, requests } = callSpans(recorded)
      assert.strictEqual(attribute(call, "error.type"), "503")
      assert.strictEqual(attribute(call, "http.response.status_code"), 503)
      assert.strictEqual(attribute(requests[0]!, "error.type"), "503")
      assert.strictEqual(call.status._tag === "Ended" && call.status.exit._tag, "Failure")
    }).pipe(Effect.scoped))

  it.live("a 404 the call accepts: the GET span is still an error (404), the call span is not", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const recorded = recordingTracer()
      const client = yield* ResilientClient.make({ retry: noRetry })
      const response = yield* client.get(server.urlFor("/status/404"), { acceptStatus: (status) => status === 404 })
        .pipe(Effect.withTracer(recorded.tracer))
      assert.strictEqual(response.status, 404)
      const { call, requests } = callSpans(recorded)
      assert.strictEqual(attribute(requests[0]!, "error.type"), "404")
      assert.strictEqual(requests[0]!.status._tag === "Ended" && requests[0]!.status.exit._tag, "Failure")
      assert.isUndefined(attribute(call, "error.type"))
      assert.strictEqual(attribute(call, "http.response.status_code"), 404)
      assert.strictEqual(call.status._tag === "Ended" && call.status.exit._tag, "Success")
    }).pipe(Effect.scoped))

  it.live("an open circuit: the refused call's span has error.type CircuitOpenError, an httpkit.circuit.rejected event, no GET", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* ResilientClient.make({ retry: noRetry, circuitBreaker: { failureThreshold: 1 } })
      yield* failsWith(client.get(server.urlFor("/status/503")), "ServiceUnavailableError")
      const recorded = recordingTracer()
      const error = yield* failsWith(
        client.get(server.urlFor("/echo")).pipe(Effect.withTracer(recorded.tracer)),
        "CircuitOpenError"
      )
      const { call, requests } = callSpans(recorded)
      assert.strictEqual(requests.length, 0)
      assert.strictEqual(attribute(call, "error.type"), "CircuitOpenError")
      const events = eventsOf(call)
      assert.strictEqual(events.length, 1)
      assert.strictEqual(events[0]![0], "httpkit.circuit.rejected")
      assert.strictEqual(events[0]![2]["httpkit.circuit.key"], new URL(server.url).origin)
      assert.strictEqual(
        events[0]![2]["httpkit.circuit.retry_after_ms"],
        (error as unknown as { retryAfterMillis: number }).retryAfterMillis
      )
      assert.strictEqual((yield* server.requestsTo("/echo")).length, 0)
    }).pipe(Effect.scoped))

  it.effect("a limiter that holds the first attempt 250 ms: one httpkit.rate_limit.wait event of 250 ms", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const recorded = recordingTracer()
      const holding = yield* Deferred.make<void>()
      const hook: RateLimitHook.RateLimitHook = {
        around: (request, attempt) =>
          request.attempt === 1
            ? Deferred.succeed(holding, undefined).pipe(
              Effect.andThen(Effect.sleep("250 millis")),
              Effect.andThen(attempt)
            )
            : attempt
      }
      const client = yield* ResilientClient.make({ retry: noRetry }).pipe(
        Effect.provideService(RateLimitHook.RateLimit, hook)
      )
      const call = yield* client.get(server.urlFor("/health")).pipe(
        Effect.withTracer(recorded.tracer),
        Effect.forkChild
      )
      yield* Deferred.await(holding)
      yield* TestClock.adjust("250 millis")
      yield* Fiber.join(call)
      const { call: span, requests } = callSpans(recorded)
      assert.deepStrictEqual(eventsOf(span).map(([name, , attributes]) => [name, attributes]), [
        ["httpkit.rate_limit.wait", { "httpkit.attempt": 1, "httpkit.rate_limit.wait_ms": 250 }]
      ])
      assert.strictEqual(requests.length, 1)
    }).pipe(Effect.scoped))

  it.live(
    "a 401 answered by a token refresh: an httpkit.auth.refresh event, GET 401 then GET 200 (resend_count 1)",
    () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make()
        const control = ServerControl.make(server.url)
        const recorded = recordingTracer()
        const client = yield* ResilientClient.make({ retry: noRetry }).pipe(
          Effect.provide(Auth.layerBearer("stale-token", {
            onUnauthorized: Effect.map(control.token, (token) => token.token)
          }))
        )
        yield* client.get(server.urlFor("/auth/bearer")).pipe(Effect.withTracer(recorded.tracer))
        const { call, requests } = callSpans(recorded)
        assert.deepStrictEqual(requests.map((span) => attribute(span, "http.response.status_code")), [401, 200])
        assert.deepStrictEqual(requests.map((span) => attribute(span, "http.request.resend_count")), [undefined, 1])
        assert.deepStrictEqual(eventsOf(call).map(([name, , attributes]) => [name, attributes]), [
          ["httpkit.auth.refresh", { "httpkit.attempt": 1, "httpkit.auth.refreshed": true }]
        ])
        assert.strictEqual(attribute(call, "http.response.status_code"), 200)
        assert.strictEqual(attribute(call, "http.request.resend_count"), 1)
      }).pipe(Effect.scoped)
  )

  it.live(
    "a request other code sends inside a call (here a limiter's own) keeps Effect's client span, a child of the call's, and its own traceparent",
    () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make()
        const recorded = recordingTracer()
        const http = yield* HttpClient.HttpClient.pipe(Effect.provide(FetchHttpClient.layer))
        const hook: RateLimitHook.RateLimitHook = {
          around: (_, attempt) => Effect.andThen(Effect.orDie(http.get(server.urlFor("/health"))), attempt)
        }
        const client = yield* ResilientClient.make({ retry: noRetry }).pipe(
          Effect.provideService(RateLimitHook.RateLimit, hook)
        )
        yield* client.get(server.urlFor("/echo")).pipe(Effect.withTracer(recorded.tracer))
        const { call, requests } = callSpans(recorded)
        // Effect's span for the limiter's request, ours for the call's.
        assert.deepStrictEqual(requests.map((span) => attribute(span, "url.full")), [
          server.urlFor("/health"),
          server.urlFor("/echo")
        ])
        const [health, echo] = yield* Effect.all([server.requestsTo("/health"), server.requestsTo("/echo")])
        assert.strictEqual(traceparent(health[0]!.headers["traceparent"]).parentId, requests[0]!.spanId)
        assert.strictEqual(traceparent(echo[0]!.headers["traceparent"]).parentId, requests[1]!.spanId)
        assert.strictEqual(traceparent(echo[0]!.headers["traceparent"]).traceId, call.traceId)
      }).pipe(Effect.scoped)
  )

  it.live(
    "no tracing backend (Effect's nativeTracer): each attempt still sends traceparent and b3 in the caller's trace, naming its own span; nothing only a backend could see is recorded",
    () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make()
        yield* ServerControl.make(server.url).failNext(2, { status: 503 })
        // What code running inside the call sees as its span: the call's own, made but not recorded.
        const inside: Array<Tracer.AnySpan> = []
        const hook: RateLimitHook.RateLimitHook = {
          around: (_, attempt) =>
            Effect.andThen(
              Effect.orDie(Effect.map(Effect.currentParentSpan, (span) => void inside.push(span))),
              attempt
            )
        }
        const client = yield* ResilientClient.make({
          retry: { maxAttempts: 3, minDelay: 10, maxDelay: 10, jitter: false }
        }).pipe(Effect.provideService(RateLimitHook.RateLimit, hook))
        const caller = yield* client.get(server.urlFor("/msg")).pipe(
          Effect.andThen(Effect.currentSpan),
          Effect.withSpan("caller")
        )
        assert.strictEqual(yield* Effect.service(Tracer.Tracer), Tracer.nativeTracer)

        const seen = yield* server.requestsTo("/msg")
        assert.strictEqual(seen.length, 3)
        const headers = seen.map((request) => traceparent(request.headers["traceparent"]))
        for (const header of headers) assert.strictEqual(header.traceId, caller.traceId)
        // Three client spans, none of them the caller's: each attempt names its own.
        assert.strictEqual(new Set([...headers.map((header) => header.parentId), caller.spanId]).size, 4)
        // b3's last field is the parent of the request's span: the call's span, the same for every attempt.
        const b3Parents = seen.map((request) => String(request.headers["b3"]).split("-")[3])
        assert.strictEqual(new Set(b3Parents).size, 1)
        assert.notStrictEqual(b3Parents[0], caller.spanId)

        assert.strictEqual(inside.length, 3)
        const call = inside[0]! as Tracer.Span
        assert.strictEqual(call.name, "HTTP GET")
        assert.strictEqual(call.spanId, b3Parents[0])
        assert.strictEqual(Option.getOrUndefined(call.parent), caller)
        assert.strictEqual(call.attributes.size, 0)
        assert.strictEqual(eventsOf(call).length, 0)
        assert.strictEqual(call.status._tag, "Ended")
      }).pipe(Effect.scoped)
  )

  it.live("tracing: false (client), tracing: false (call), TracerEnabled false (fiber): zero spans, no traceparent or b3", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const recorded = recordingTracer()
      const off = yield* ResilientClient.make({ retry: noRetry, tracing: false })
      const on = yield* ResilientClient.make({ retry: noRetry })
      yield* off.get(server.urlFor("/echo?case=client")).pipe(
        Effect.withSpan("caller"),
        Effect.withTracer(recorded.tracer)
      )
      yield* on.get(server.urlFor("/echo?case=call"), { tracing: false }).pipe(
        Effect.withSpan("caller"),
        Effect.withTracer(recorded.tracer)
      )
      yield* on.get(server.urlFor("/echo?case=fiber")).pipe(
        Effect.withTracerEnabled(false),
        Effect.withSpan("caller"),
        Effect.withTracer(recorded.tracer)
      )
      yield* failsWith(
        off.get(server.urlFor("/status/503?case=failure")).pipe(Effect.withTracer(recorded.tracer)),
        "ServiceUnavailableError"
      )
      // Only the test's own `caller` spans.
      assert.deepStrictEqual(recorded.spans.map((span) => span.name), ["caller", "caller", "caller"])
      const seen = yield* server.requests
      assert.strictEqual(seen.length, 4)
      for (const request of seen) {
        assert.isUndefined(request.headers["traceparent"], request.query)
        assert.isUndefined(request.headers["b3"], request.query)
      }
    }).pipe(Effect.scoped))

  it.live("HTTPKIT_TRACING=false turns tracing off through the environment; it is on by default", () =>
    Effect.gen(function*() {
      assert.isFalse((yield* fromEnv({ HTTPKIT_TRACING: "false" })).tracing)
      assert.isTrue((yield* fromEnv({})).tracing)
      assert.isTrue((yield* ClientConfig.resolve()).tracing)
    }))

  it.live("a browser profile: the spans are made, but no traceparent or b3 is sent", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const recorded = recordingTracer()
      const client = yield* ResilientClient.make({ retry: noRetry }).pipe(
        Effect.provide(BrowserProfile.layer({ family: "desktop", seed: 1 }))
      )
      yield* client.get(server.urlFor("/echo")).pipe(Effect.withTracer(recorded.tracer))
      const { requests } = callSpans(recorded)
      assert.strictEqual(requests.length, 1)
      const [seen] = yield* server.requests
      assert.isUndefined(seen!.headers["traceparent"])
      assert.isUndefined(seen!.headers["b3"])
    }).pipe(Effect.scoped))

  it.live("no secret in any span: bearer, x-api-key, cookie, ?token= and user-info, every header recorded", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const recorded = recordingTracer()
      const client = yield* ResilientClient.make({ retry: noRetry }).pipe(
        Effect.provide(Auth.layerBearer("bearer-SECRET1"))
      )
      const url = new URL(server.urlFor("/redirect/1?to=/status/503&token=query-SECRET2&page=2"))
      url.username = "user"
      url.password = "userinfo-SECRET3"
      yield* failsWith(
        client.get(url, { headers: { "x-api-key": "apikey-SECRET4", cookie: "sid=cookie-SECRET5" } }).pipe(
          Effect.withTracer(recorded.tracer),
          Effect.provideService(HttpClient.TracerHeaderFilter, constTrue)
        ),
        "ServiceUnavailableError"
      )
      // The requests really carried the secrets...
      const [first] = yield* server.requests
      assert.strictEqual(first!.headers["x-api-key"], "apikey-SECRET4")
      assert.include(first!.query, "query-SECRET2")
      // ...but no span shows any of them, though headers and URLs were recorded.
      const { call, requests } = callSpans(recorded)
      assert.strictEqual(requests.length, 2)
      const text = everything(recorded.spans)
      assert.include(text, "http.request.header.x-api-key=REDACTED")
      assert.include(text, "http.request.header.authorization=REDACTED")
      assert.include(text, "page=2")
      // User-info never reaches the request's URL (it becomes Authorization: Basic, or is dropped for auth's).
      assert.strictEqual(
        attribute(call, "url.full"),
        `http://127.0.0.1:${server.port}/redirect/1?to=/status/503&token=REDACTED&page=2`
      )
      assert.notMatch(text, /SECRET\d/)
    }).pipe(Effect.scoped))

  it.live("url.full is redacted as log lines are: ?a=1;token=, a nested URL's token and user-info, ;jsessionid=, AWSAccessKeyId", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const recorded = recordingTracer()
      const client = yield* ResilientClient.make({ retry: noRetry })
      const nested = encodeURIComponent("https://user:nested-SECRET1@x.example/cb?access_token=nested-SECRET2")
      const url = server.urlFor(
        `/msg;jsessionid=path-SECRET3?a=1;token=semi-SECRET4&next=${nested}&AWSAccessKeyId=aws-SECRET5&page=2`
      )
      const response = yield* client.get(url).pipe(Effect.withTracer(recorded.tracer))
      assert.strictEqual((yield* server.requests).length, 1)
      // The response itself, printed or logged, shows its URL redacted too.
      for (const shown of [inspect(response), JSON.stringify(response), String(response)]) {
        assert.notMatch(shown, /SECRET\d/)
        assert.include(shown, "page=2")
      }
      const { call } = callSpans(recorded)
      const full = String(attribute(call, "url.full"))
      assert.include(full, "page=2")
      assert.include(full, "/msg;jsessionid=REDACTED")
      assert.notMatch(everything(recorded.spans), /SECRET\d/)
    }).pipe(Effect.scoped))
})
