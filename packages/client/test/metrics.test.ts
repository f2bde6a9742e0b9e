/**
 * `ClientMetrics` (Effect's own client reports none; RELIABILITY 8 and 13 for the
 * attributes): calls by outcome and status, retries, calls in flight, the
 * undici pool over real sockets against the fault-injection server; circuit
 * transitions of both breakers under `TestClock` over the scripted transport.
 * Each test reads a registry of its own.
 */
import { assert, describe, it } from "@effect/vitest"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import * as MetricBoundaries from "@httpkit/core/MetricBoundaries"
import { MetricsTest, TestServer } from "@httpkit/testing"
import * as TestTransport from "@httpkit/testing/TestTransport"
import { ConfigProvider, Effect, Fiber, Schedule, Scheduler } from "effect"
import { CircuitBreaker } from "effect/persistence"
import { TestClock } from "effect/testing"
import { failsWith, noRetry } from "./support.ts"
import { base, onTestTransport, scripted } from "./transportSupport.ts"

const requests = "httpkit_client_requests_total"
const transitions = "httpkit_client_circuit_transitions_total"
const circuitState = "httpkit_client_circuit_state"

/** Waits (polling the server's log, bounded) until `path` has been requested `n` times. */
const untilRequested = (server: TestServer.TestServer["Service"], path: string, n = 1) =>
  server.requestsTo(path).pipe(
    Effect.map((seen) => seen.length),
    Effect.repeat({ until: (count) => count >= n, schedule: Schedule.spaced("10 millis") }),
    Effect.timeout("10 seconds")
  )

/** A fresh server, and a client of one attempt per call (with `options`). */
const serverAndClient = (options: ResilientClient.Options = {}) =>
  Effect.all({ server: TestServer.make(), client: ResilientClient.make({ retry: noRetry, ...options }) })

/** What `effect` reported to a registry of its own. */
const reported = <E>(effect: Effect.Effect<unknown, E>) =>
  MetricsTest.withRegistry((metrics) => Effect.as(effect, metrics))

describe("client metrics over sockets", () => {
  it.live("calls in flight and the undici pool, during a slow call and after it", () =>
    MetricsTest.withRegistry((metrics) =>
      Effect.gen(function*() {
        const { client, server } = yield* serverAndClient({ name: "slow" })
        const attributes = { client: "slow" }
        assert.strictEqual(metrics.gauge("httpkit_client_in_flight", attributes), 0)

        const call = yield* Effect.forkChild(client.get(server.urlFor("/delay/1000")))
        yield* untilRequested(server, "/delay/1000")
        assert.strictEqual(metrics.gauge("httpkit_client_in_flight", attributes), 1)
        assert.strictEqual(metrics.gauge("httpkit_client_pool_requests", { ...attributes, state: "running" }), 1)
        assert.strictEqual(metrics.gauge("httpkit_client_pool_connections", { ...attributes, state: "connected" }), 1)
        assert.strictEqual(metrics.gauge("httpkit_client_pool_connections", { ...attributes, state: "free" }), 0)

        const response = yield* Fiber.join(call)
        yield* response.text
        assert.strictEqual(metrics.gauge("httpkit_client_in_flight", attributes), 0)
        // undici frees the connection just after the body's end reaches its reader.
        const free = yield* Effect.sync(() =>
          metrics.gauge("httpkit_client_pool_connections", { ...attributes, state: "free" })
        ).pipe(
          Effect.repeat({ until: (value) => value === 1, schedule: Schedule.spaced("10 millis") }),
          Effect.timeout("5 seconds")
        )
        assert.strictEqual(free, 1)
        assert.strictEqual(metrics.gauge("httpkit_client_pool_requests", { ...attributes, state: "running" }), 0)
        assert.strictEqual(metrics.gauge("httpkit_client_pool_connections", { ...attributes, state: "connected" }), 1)
        const host = new URL(server.url).host
        assert.strictEqual(
          metrics.count(requests, { ...attributes, method: "GET", host, status: "200", outcome: "success" }),
          1
        )
        const duration = metrics.series("httpkit_client_request_duration_seconds", { ...attributes, host })
        const state = duration?.state as { count: number; min: number } | undefined
        assert.strictEqual(state?.count, 1)
        // The server held the answer for a second: the call took at least that.
        assert.isAtLeast(state!.min, 0.99)
      }).pipe(Effect.scoped)
    ))

  it.live("an interrupted call counts as interrupted and leaves nothing in flight", () =>
    MetricsTest.withRegistry((metrics) =>
      Effect.gen(function*() {
        const { client, server } = yield* serverAndClient()
        const call = yield* Effect.forkChild(client.get(server.urlFor("/delay/5000")))
        yield* untilRequested(server, "/delay/5000")
        yield* Fiber.interrupt(call)
        assert.strictEqual(metrics.gauge("httpkit_client_in_flight", { client: "default" }), 0)
        assert.strictEqual(metrics.count(requests, { status: "none", outcome: "interrupted" }), 1)
      }).pipe(Effect.scoped)
    ))

  it.live("no secret reaches an attribute: user info, path and query stay out, and refused calls count", () =>
    MetricsTest.withRegistry((metrics) =>
      Effect.gen(function*() {
        const { client, server } = yield* serverAndClient()
        const url = new URL(server.urlFor("/health?access_token=hunter2"))
        url.username = "alice"
        url.password = "s3cret"
        yield* client.get(url)
        yield* failsWith(
          client.get(server.urlFor("/health"), { headers: { "x-bad": "a\r\nb" } }),
          "InvalidRequestError"
        )
        const attributes = metrics.snapshot().flatMap((entry) => Object.values(entry.attributes ?? {}))
        for (const value of attributes) {
          for (const secret of ["alice", "s3cret", "hunter2", "access_token", "/health"]) {
            assert.notInclude(value, secret)
          }
        }
        assert.strictEqual(metrics.count(requests, { status: "200", outcome: "success" }), 1)
        assert.strictEqual(metrics.count(requests, { status: "none", outcome: "InvalidRequestError" }), 1)
      }).pipe(Effect.scoped)
    ))

  it.live("metrics: false reports nothing; name and metrics load from the environment", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      /** A GET of `/health` by the client `layerConfig` makes of `env`. */
      const fromEnv = (env: Record<string, string>) =>
        Effect.flatMap(ResilientClient.ResilientClient, (client) => client.get(server.urlFor("/health"))).pipe(
          Effect.provide(ResilientClient.layerConfig()),
          Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))
        )

      const off = yield* reported(
        Effect.gen(function*() {
          const client = yield* ResilientClient.make({ metrics: false })
          yield* client.get(server.urlFor("/health"))
        }).pipe(Effect.scoped)
      )
      assert.deepStrictEqual(off.snapshot(), [])

      const named = yield* reported(fromEnv({ HTTPKIT_NAME: "github" }))
      assert.strictEqual(named.count(requests, { client: "github", outcome: "success" }), 1)

      const offFromEnv = yield* reported(fromEnv({ HTTPKIT_METRICS: "false" }))
      assert.deepStrictEqual(offFromEnv.snapshot(), [])
    }).pipe(Effect.scoped))
})

describe("client metrics over sockets: known traffic", () => {
  it.live("3 x 200 and 2 x 404 to one host, 1 x 503 to another: counts per host, status class and outcome", () =>
    MetricsTest.withRegistry((metrics) =>
      Effect.gen(function*() {
        const first = yield* TestServer.make()
        const second = yield* TestServer.make()
        const client = yield* ResilientClient.make({ name: "known", retry: noRetry })
        for (let i = 0; i < 3; i++) yield* client.get(first.urlFor("/health"))
        for (let i = 0; i < 2; i++) yield* failsWith(client.get(first.urlFor("/status/404")), "NotFoundError")
        yield* failsWith(client.post(second.urlFor("/status/503")), "ServiceUnavailableError")

        const a = new URL(first.url).host
        const b = new URL(second.url).host
        const count = (attributes: Record<string, string>) =>
          metrics.count(requests, { client: "known", ...attributes })
        assert.strictEqual(
          count({ method: "GET", host: a, status: "200", status_class: "2xx", outcome: "success" }),
          3
        )
        assert.strictEqual(
          count({ method: "GET", host: a, status: "404", status_class: "4xx", outcome: "NotFoundError" }),
          2
        )
        assert.strictEqual(
          count({ method: "POST", host: b, status: "503", status_class: "5xx", outcome: "ServiceUnavailableError" }),
          1
        )
        // Nothing else was counted: 6 calls in 3 series.
        const series = metrics.snapshot().filter((entry) => entry.id === requests)
        assert.strictEqual(series.length, 3)
        assert.strictEqual(series.reduce((sum, entry) => sum + Number((entry.state as { count: number }).count), 0), 6)

        // Durations per host, in the shared boundaries.
        const duration = (host: string, method: string) =>
          metrics.series("httpkit_client_request_duration_seconds", { client: "known", host, method })?.state as
            | { count: number; buckets: ReadonlyArray<readonly [number, number]> }
            | undefined
        assert.strictEqual(duration(a, "GET")?.count, 5)
        assert.strictEqual(duration(b, "POST")?.count, 1)
        assert.deepStrictEqual(duration(a, "GET")?.buckets.map(([boundary]) => boundary), [...MetricBoundaries.seconds])
      }).pipe(Effect.scoped)
    ))

  it.live("a bulkhead of 1 full for 200 ms refuses the second call: one rejection counted for its host", () =>
    MetricsTest.withRegistry((metrics) =>
      Effect.gen(function*() {
        const server = yield* TestServer.make()
        const client = yield* ResilientClient.make({
          name: "bulk",
          retry: noRetry,
          bulkhead: { maxConcurrency: 1, acquireTimeout: "200 millis" }
        })
        const holder = yield* Effect.forkChild(client.get(server.urlFor("/delay/1500")))
        yield* untilRequested(server, "/delay/1500")
        yield* failsWith(client.get(server.urlFor("/health")), "BulkheadFullError")
        const host = new URL(server.url).host
        assert.strictEqual(metrics.count("httpkit_client_bulkhead_rejections_total", { client: "bulk", host }), 1)
        assert.strictEqual(metrics.count(requests, { client: "bulk", outcome: "BulkheadFullError", status: "none" }), 1)
        assert.strictEqual((yield* Fiber.join(holder)).status, 200)
        // The refused call never reached the server.
        assert.strictEqual((yield* server.requestsTo("/health")).length, 0)
        assert.strictEqual(metrics.count("httpkit_client_bulkhead_rejections_total"), 1)
      }).pipe(Effect.scoped)
    ))
})

describe("client calls interrupted at every step", () => {
  /** `n` steps that do nothing: shifts where, in a call, the scheduler's yields fall. */
  const steps = (n: number): Effect.Effect<void> =>
    n === 0 ? Effect.void : Effect.flatMap(Effect.void, () => steps(n - 1))

  it.live("leave nothing in flight, whichever step the interruption lands on", () =>
    MetricsTest.withRegistry((metrics) =>
      Effect.gen(function*() {
        const transport = yield* TestTransport.TestTransport
        const client = yield* ResilientClient.ResilientClient
        yield* transport.setDefault({ path: "/items" }, TestTransport.json(200, { id: 1 }))
        const ended = new Set<string>()
        // The call's fiber yields every 3 steps (fewer, and Effect's run loop does nothing but yield); the
        // interruption comes after `waits` turns of the test's fiber; `offset` steps before the call move the
        // yields by one step each. Together they put an interruption between every two steps of a call.
        for (let offset = 0; offset < 3; offset++) {
          for (let waits = 0; waits < 60; waits++) {
            const call = yield* Effect.forkChild(
              Effect.andThen(steps(offset), client.get(`${base}/items`)).pipe(
                Effect.provideService(Scheduler.MaxOpsBeforeYield, 3)
              )
            )
            for (let i = 0; i < waits; i++) yield* Effect.yieldNow
            yield* Fiber.interrupt(call)
            ended.add((yield* Fiber.await(call))._tag)
            assert.strictEqual(
              metrics.gauge("httpkit_client_in_flight", { client: "default" }),
              0,
              `a call interrupted after ${waits} turns (offset ${offset}) is still counted in flight`
            )
          }
        }
        // Some calls were interrupted and some had finished: the loops covered whole calls.
        assert.deepStrictEqual([...ended].toSorted(), ["Failure", "Success"])
      }).pipe(onTestTransport({ retry: noRetry }))
    ))
})

describe("client metrics configuration", () => {
  it.effect("a name unfit for an attribute fails the layer with a ClientConfigError naming the field", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(ResilientClient.make({ name: "my client\n" }))
      assert.strictEqual(error._tag, "ClientConfigError")
      assert.include(error.message, "name")
    }).pipe(Effect.scoped))
})

describe("client metrics under TestClock", () => {
  const route = { path: "/items" } as const
  const url = `${base}/items`

  /** The breaker's life: open, a failed probe, a successful one; transitions and open circuits at each step. */
  const breakerLife = (metrics: MetricsTest.Registry) =>
    Effect.gen(function*() {
      const client_ = { client: "default" }
      const moved = (from: string, to: string) => metrics.count(transitions, { ...client_, from, to })
      const { client } = yield* scripted(
        route,
        TestTransport.respond(503),
        TestTransport.respond(503),
        TestTransport.respond(503),
        TestTransport.respond(200)
      )
      assert.strictEqual(metrics.gauge("httpkit_client_circuits_open", client_), 0)
      yield* failsWith(client.get(url), "ServiceUnavailableError")
      yield* failsWith(client.get(url), "ServiceUnavailableError")
      yield* Effect.yieldNow
      assert.strictEqual(moved("closed", "open"), 1)
      assert.strictEqual(metrics.gauge("httpkit_client_circuits_open", client_), 1)
      yield* failsWith(client.get(url), "CircuitOpenError")

      yield* TestClock.adjust("30 seconds")
      yield* failsWith(client.get(url), "ServiceUnavailableError")
      yield* Effect.yieldNow
      assert.strictEqual(moved("open", "half_open"), 1)
      assert.strictEqual(moved("half_open", "open"), 1)
      assert.strictEqual(metrics.gauge("httpkit_client_circuits_open", client_), 1)

      yield* TestClock.adjust("30 seconds")
      assert.strictEqual((yield* client.get(url)).status, 200)
      yield* Effect.yieldNow
      assert.strictEqual(moved("open", "half_open"), 2)
      assert.strictEqual(moved("half_open", "closed"), 1)
      assert.strictEqual(metrics.gauge("httpkit_client_circuits_open", client_), 0)
      assert.strictEqual(metrics.count(requests, { outcome: "CircuitOpenError", status: "none" }), 1)
      assert.strictEqual(metrics.count(requests, { outcome: "ServiceUnavailableError", status: "503" }), 3)
    })

  const breaker: ResilientClient.Options = {
    retry: noRetry,
    circuitBreaker: { failureThreshold: 2, openDuration: "30 seconds" }
  }

  it.effect("the in-memory breaker's transitions and open circuits", () =>
    MetricsTest.withRegistry((metrics) => breakerLife(metrics).pipe(onTestTransport(breaker))))

  it.effect("Effect's breaker over a store: the same transitions, from its transitions stream", () =>
    MetricsTest.withRegistry((metrics) =>
      breakerLife(metrics).pipe(onTestTransport(breaker), Effect.provide(CircuitBreaker.layerStoreMemory()))
    ))

  /**
   * One circuit's state gauge through its life: absent until the first
   * transition, 2 when open, 1 while the probe (held 1 s by the transport)
   * runs, 0 once it succeeded; gone when the client's scope closes.
   */
  const assertCircuitStates = (metrics: MetricsTest.Registry) =>
    Effect.gen(function*() {
      yield* Effect.gen(function*() {
        const series = { client: "default", key: base }
        const { client } = yield* scripted(
          route,
          TestTransport.respond(503),
          TestTransport.respond(503),
          TestTransport.respond(200, { delay: "1 second" })
        )
        assert.isUndefined(metrics.gauge(circuitState, series))
        yield* failsWith(client.get(url), "ServiceUnavailableError")
        yield* failsWith(client.get(url), "ServiceUnavailableError")
        yield* Effect.yieldNow
        assert.strictEqual(metrics.gauge(circuitState, series), 2)

        yield* TestClock.adjust("30 seconds")
        const probe = yield* Effect.forkChild(client.get(url))
        for (let i = 0; i < 5; i++) yield* Effect.yieldNow
        assert.strictEqual(metrics.gauge(circuitState, series), 1)
        yield* TestClock.adjust("1 second")
        assert.strictEqual((yield* Fiber.join(probe)).status, 200)
        yield* Effect.yieldNow
        assert.strictEqual(metrics.gauge(circuitState, series), 0)
      }).pipe(onTestTransport(breaker))
      // The client's scope closed: its circuit series are gone.
      assert.strictEqual(metrics.snapshot().filter((entry) => entry.id === circuitState).length, 0)
    })

  it.effect("the in-memory breaker's circuit state: absent, 2 (open), 1 (half-open probe), 0 (closed)", () =>
    MetricsTest.withRegistry((metrics) => assertCircuitStates(metrics)))

  it.effect("Effect's breaker over a store: the same circuit states, from its transitions stream", () =>
    MetricsTest.withRegistry((metrics) =>
      assertCircuitStates(metrics).pipe(Effect.provide(CircuitBreaker.layerStoreMemory()))
    ))

  it.effect("circuit keys are bounded: 1,002 open circuits give 1,000 key series and other = 2", () =>
    MetricsTest.withRegistry((metrics) =>
      Effect.gen(function*() {
        const transport = yield* TestTransport.TestTransport
        const client = yield* ResilientClient.ResilientClient
        yield* transport.setDefault({ path: "/" }, TestTransport.respond(503))
        for (let i = 0; i < 1_002; i++) yield* failsWith(client.get(`http://c${i}.test/`), "ServiceUnavailableError")
        const keys = metrics.snapshot().filter((entry) => entry.id === circuitState)
        assert.strictEqual(keys.length, 1_001)
        assert.strictEqual(metrics.gauge(circuitState, { key: "http://c0.test" }), 2)
        assert.strictEqual(metrics.gauge(circuitState, { key: "http://c999.test" }), 2)
        assert.isUndefined(metrics.gauge(circuitState, { key: "http://c1000.test" }))
        assert.strictEqual(metrics.gauge(circuitState, { key: "other" }), 2)
        assert.strictEqual(metrics.gauge("httpkit_client_circuits_open", { client: "default" }), 1_002)
      }).pipe(onTestTransport({ retry: noRetry, circuitBreaker: { failureThreshold: 1 } }))
    ))

  it.effect("retries by reason; attempts are calls plus retries", () =>
    MetricsTest.withRegistry((metrics) =>
      Effect.gen(function*() {
        const { client, transport } = yield* scripted(
          route,
          TestTransport.respond(503),
          TestTransport.fail("ECONNRESET"),
          TestTransport.respond(200)
        )
        const call = yield* Effect.forkChild(client.get(url))
        yield* TestClock.adjust("1 minute")
        assert.strictEqual((yield* Fiber.join(call)).status, 200)
        assert.strictEqual(metrics.count("httpkit_client_retries_total", { reason: "ServiceUnavailableError" }), 1)
        assert.strictEqual(metrics.count("httpkit_client_retries_total", { reason: "ConnectionError" }), 1)
        assert.strictEqual(metrics.count(requests, { status: "200", outcome: "success" }), 1)
        assert.strictEqual((yield* transport.calls).length, 3)
      }).pipe(onTestTransport({ retry: { maxAttempts: 3, jitter: false } }))
    ))

  it.effect("a full bulkhead and an overall deadline count with their own outcomes", () =>
    MetricsTest.withRegistry((metrics) =>
      Effect.gen(function*() {
        const { client } = yield* scripted(route, TestTransport.hang)
        const holder = yield* Effect.forkChild(Effect.flip(client.get(url)))
        yield* Effect.yieldNow
        const waiter = yield* Effect.forkChild(Effect.flip(client.get(url)))
        yield* TestClock.adjust("2 seconds")
        assert.strictEqual((yield* Fiber.join(waiter))._tag, "BulkheadFullError")
        yield* TestClock.adjust("10 seconds")
        assert.strictEqual((yield* Fiber.join(holder))._tag, "TimeoutError")
        assert.strictEqual(metrics.count(requests, { outcome: "BulkheadFullError" }), 1)
        assert.strictEqual(
          metrics.count("httpkit_client_bulkhead_rejections_total", { client: "default", host: "api.test" }),
          1
        )
        assert.strictEqual(metrics.count(requests, { outcome: "TimeoutError" }), 1)
        assert.strictEqual(metrics.gauge("httpkit_client_in_flight", { client: "default" }), 0)
      }).pipe(onTestTransport({
        retry: noRetry,
        bulkhead: { maxConcurrency: 1, acquireTimeout: "1 second" },
        timeout: { total: "5 seconds" }
      }))
    ))

  it.effect("hosts are bounded: beyond maxHosts, calls count under other", () =>
    MetricsTest.withRegistry((metrics) =>
      Effect.gen(function*() {
        const client = yield* ResilientClient.ResilientClient
        for (let i = 0; i < 1_005; i++) yield* Effect.flip(client.get(`http://h${i}.test/`))
        const hosts = new Set(
          metrics.snapshot().filter((entry) => entry.id === requests).map((entry) => entry.attributes?.host)
        )
        assert.strictEqual(hosts.size, 1_001)
        assert.isTrue(hosts.has("other"))
        assert.strictEqual(metrics.count(requests, { host: "other" }), 5)
      }).pipe(onTestTransport({ retry: noRetry, circuitBreaker: { enabled: false } }))
    ))
})
