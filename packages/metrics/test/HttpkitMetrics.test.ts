/**
 * `HttpkitMetrics.snapshot` over known traffic: a `ResilientClient` calls the
 * fault-injection server under two hosts (`127.0.0.1:port` and
 * `localhost:port`) with successes, 503s retried to success, 404s and a
 * timeout, and a port nothing listens on until its circuit opens; the
 * snapshot's counts per host, status class, outcome and retry reason, and
 * the circuit's state, are exact. Series of the rate limiter and the downloader, and of
 * names it does not know, are grouped (or ignored) as the naming scheme says.
 */
import { assert, describe, it } from "@effect/vitest"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import * as Downloader from "@httpkit/downloader/Downloader"
import * as ClientRateLimit from "@httpkit/rate-limiter/ClientRateLimit"
import * as LimiterStore from "@httpkit/rate-limiter/LimiterStore"
import * as Policy from "@httpkit/rate-limiter/Policy"
import * as RateLimiter from "@httpkit/rate-limiter/RateLimiter"
import { Ports, ServerControl, TestServer } from "@httpkit/testing"
import * as Content from "@httpkit/testing/Content"
import { makeRegistry } from "@httpkit/testing/MetricsTest"
import { Effect, Metric } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import * as HttpkitMetrics from "../src/HttpkitMetrics.ts"
import * as Snapshot from "../src/Snapshot.ts"

/** Runs `n` calls one after the other. */
const times = <A, E, R>(n: number, call: Effect.Effect<A, E, R>) =>
  Effect.forEach(Array.from({ length: n }), () => call)

describe("HttpkitMetrics.snapshot over known traffic", () => {
  it.live(
    "127.0.0.1: 5 successes, 1 after two 503s, 2 × 404, 1 timeout; localhost: 3 successes, 1 × 404; a closed port: 2 refused, then its circuit open",
    () => {
      const metrics = makeRegistry()
      return Effect.gen(function*() {
        const server = yield* TestServer.make()
        const control = ServerControl.make(server.url)
        const client = yield* ResilientClient.make({
          name: "traffic",
          retry: { maxAttempts: 4, minDelay: "5 millis", maxDelay: "20 millis" },
          circuitBreaker: { failureThreshold: 2, openDuration: "1 minute" }
        })
        const numeric = server.url
        const named = server.url.replace("127.0.0.1", "localhost")

        yield* times(5, client.get(`${numeric}/msg`))
        yield* control.failNext(2, { status: 503 })
        yield* client.get(`${numeric}/msg`)
        yield* times(2, Effect.flip(client.get(`${numeric}/status/404`)))
        const timedOut = yield* Effect.flip(
          client.get(`${numeric}/delay/5000`, { timeout: { total: "300 millis" }, retry: false })
        )
        assert.strictEqual(timedOut._tag, "TimeoutError")
        yield* times(3, client.get(`${named}/health`))
        yield* Effect.flip(client.get(`${named}/status/404`))
        // Nothing listens on `refused`: two connection failures open its circuit, the third call is refused.
        const refused = `http://127.0.0.1:${yield* Ports.unused}`
        yield* times(2, Effect.flip(client.get(`${refused}/health`, { retry: false })))
        const open = yield* Effect.flip(client.get(`${refused}/health`, { retry: false }))
        assert.strictEqual(open._tag, "CircuitOpenError")

        // The server saw what the client says it sent: 6 + 2 attempts at /msg.
        assert.strictEqual((yield* server.requestsTo("/msg")).length, 8)

        const snapshot = yield* HttpkitMetrics.snapshot
        assert.strictEqual(snapshot.clients.length, 1)
        const [client0] = snapshot.clients
        assert.strictEqual(client0!.name, "traffic")
        assert.strictEqual(client0!.inFlight, 0)
        // The client's own undici pool reports while the client is open.
        assert.isDefined(client0!.pool)
        assert.strictEqual(client0!.pool!.queued, 0)
        assert.deepStrictEqual(
          client0!.hosts.map((host) => host.host),
          [new URL(numeric).host, new URL(refused).host, new URL(named).host].toSorted()
        )
        const hostStats = (url: string) => client0!.hosts.find((host) => host.host === new URL(url).host)!
        const [a, b, c] = [hostStats(numeric), hostStats(named), hostStats(refused)]
        assert.strictEqual(client0!.circuitsOpen, 1)
        assert.deepStrictEqual(client0!.transitions, [
          new Snapshot.Transition({ from: "closed", to: "open", count: 1 })
        ])

        assert.strictEqual(a.requests, 9)
        assert.deepStrictEqual(a.statusClasses, { "2xx": 6, "4xx": 2, none: 1 })
        assert.deepStrictEqual(a.statuses, { "200": 6, "404": 2, none: 1 })
        assert.deepStrictEqual(a.outcomes, { NotFoundError: 2, TimeoutError: 1, success: 6 })
        assert.strictEqual(a.errors, 3)
        assert.deepStrictEqual(a.errorsByTag, { NotFoundError: 2, TimeoutError: 1 })
        assert.strictEqual(a.retries, 2)
        assert.deepStrictEqual(a.retriesByReason, { ServiceUnavailableError: 2 })
        assert.strictEqual(a.bulkheadRejections, 0)
        assert.strictEqual(a.latency?.count, 9)
        // The timed-out call waited about 300 ms: the max, and above p90 (the 9th of 9 values).
        assert.isAtLeast(a.latency!.max, 0.29)
        assert.isBelow(a.latency!.max, 5)
        assert.isAtMost(a.latency!.p50.value, a.latency!.max)
        assert.isTrue(a.latency!.p99.lower <= a.latency!.max && a.latency!.max <= a.latency!.p99.upper)

        assert.strictEqual(b.requests, 4)
        assert.deepStrictEqual(b.statusClasses, { "2xx": 3, "4xx": 1 })
        assert.deepStrictEqual(b.outcomes, { NotFoundError: 1, success: 3 })
        assert.strictEqual(b.errors, 1)
        assert.strictEqual(b.retries, 0)
        assert.deepStrictEqual(b.retriesByReason, {})
        assert.strictEqual(b.latency?.count, 4)

        assert.strictEqual(c.requests, 3)
        assert.deepStrictEqual(c.statusClasses, { none: 3 })
        assert.deepStrictEqual(c.errorsByTag, { CircuitOpenError: 1, ConnectionError: 2 })
        assert.strictEqual(c.breaker, "open")
        // A circuit that never changed state has no series: the breaker is absent, not "closed".
        assert.isUndefined(a.breaker)
        assert.isUndefined(b.breaker)
      }).pipe(Effect.scoped, Effect.provideService(Metric.MetricRegistry, metrics.registry))
    }
  )

  it.live(
    "a limited client (8 grants, one 429 held 1 s) and a downloader (2 files whole, 1 bad checksum, 151,000 bytes)",
    () => {
      const metrics = makeRegistry()
      return Effect.gen(function*() {
        const server = yield* TestServer.make()
        const host = new URL(server.url).host
        const limiter = yield* RateLimiter.make({
          policies: [Policy.rate({ limit: 50, window: "1 second", burst: 2 })]
        })
          .pipe(Effect.provide(LimiterStore.layerMemory()))
        const limited = yield* ResilientClient.make({ name: "limited", retry: { maxAttempts: 1 } }).pipe(
          Effect.provideService(ResilientClient.RateLimit, ClientRateLimit.hook(limiter))
        )
        yield* times(6, limited.get(server.urlFor("/health")))
        const refused = yield* Effect.flip(limited.get(server.urlFor("/status/429?retry_after=1")))
        assert.strictEqual(refused._tag, "RateLimitedError")
        // Held by the server's Retry-After: this one waits about a second.
        yield* limited.get(server.urlFor("/health"))

        const files = yield* ResilientClient.make({
          name: "files",
          retry: { maxAttempts: 4, minDelay: 1, maxDelay: 20 }
        })
        const downloader = yield* Effect.provideService(Downloader.make(), ResilientClient.ResilientClient, files)
        const folder = yield* Effect.acquireRelease(
          Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "httpkit-metrics-"))),
          (folder) => Effect.promise(() => Fs.rm(folder, { recursive: true, force: true }))
        )
        yield* downloader.download(server.urlFor("/files/a.bin?size=100000"), Path.join(folder, "a.bin"))
        // Dropped after 20,000 bytes once: the rest is asked for and continued.
        yield* downloader.download(
          server.urlFor("/files/b.bin?size=50000&drop_after=20000&drop_times=1"),
          Path.join(folder, "b.bin")
        )
        const mismatch = yield* Effect.flip(
          downloader.download(server.urlFor("/files/c.bin?size=1000"), Path.join(folder, "c.bin"), {
            checksum: `sha256:${Content.digest(9, 0, 1000)}`
          })
        )
        assert.strictEqual(mismatch._tag, "ChecksumMismatchError")

        const snapshot = yield* HttpkitMetrics.snapshot
        assert.deepStrictEqual(snapshot.clients.map((client) => client.name), ["files", "limited"])
        const limitedHost = snapshot.clients[1]!.hosts[0]!
        assert.deepStrictEqual(limitedHost.outcomes, { RateLimitedError: 1, success: 7 })

        assert.strictEqual(snapshot.rateLimiter.length, 1)
        const key = snapshot.rateLimiter[0]!
        assert.strictEqual(key.key, "127.0.0.1")
        assert.deepStrictEqual(key.acquisitions, { granted: 8 })
        assert.strictEqual(key.denials, 0)
        assert.strictEqual(key.waits?.count, 8)
        assert.deepStrictEqual(key.holdsByReason, { retry_after: 1 })
        assert.strictEqual(key.holdSeconds, 1)
        // The call after the hold waited most of that second; its wait is the p99 (the 8th of 8).
        assert.isAtLeast(key.waits!.p99.upper, 0.5)
        assert.isAtMost(key.waits!.p99.upper, key.waits!.totalSeconds)

        assert.deepStrictEqual(snapshot.downloads.map((stats) => stats.host), [host])
        const download = snapshot.downloads[0]!
        assert.strictEqual(download.files, 3)
        assert.deepStrictEqual(download.outcomes, { ChecksumMismatchError: 1, success: 2 })
        assert.strictEqual(download.bytes, 151_000)
        assert.strictEqual(download.continuations, 1)
        assert.strictEqual(download.segments, 3)
        assert.strictEqual(download.resumes, 0)
        assert.strictEqual(download.restarts, 0)
        assert.deepStrictEqual(download.checksumFailuresByAlgorithm, { sha256: 1 })
        assert.strictEqual(download.duration?.count, 3)
      }).pipe(Effect.scoped, Effect.provideService(Metric.MetricRegistry, metrics.registry))
    }
  )
})
