/**
 * `MetricsServer` over real sockets: known traffic through a `ResilientClient`
 * against the fault-injection server, then a scrape of the endpoint parsed by
 * a real exposition-format parser (`parse-prometheus-text-format`), checked
 * against the registry and against what the test server recorded. Each test
 * reads a registry of its own.
 */
import { assert, describe, it } from "@effect/vitest"
import * as ClientConfig from "@httpkit/client/ClientConfig"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import * as MetricBoundaries from "@httpkit/core/MetricBoundaries"
import * as Settings from "@httpkit/core/Settings"
import * as MetricsTest from "@httpkit/testing/MetricsTest"
import * as TestServer from "@httpkit/testing/TestServer"
import { ConfigProvider, Context, Effect, Layer, Logger, Metric } from "effect"
import * as Net from "node:net"
import parsePrometheusTextFormat from "parse-prometheus-text-format"
import type { Family, Sample } from "parse-prometheus-text-format"
import * as MetricsConfig from "../src/MetricsConfig.ts"
import * as MetricsServer from "../src/MetricsServer.ts"

const withEnv = <A, E, R>(env: Record<string, string>, effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))

/** A GET (or another method) over a real socket; the body as text. */
const scrape = (url: string, method = "GET") =>
  Effect.promise(async () => {
    const response = await fetch(url, { method })
    return { status: response.status, headers: response.headers, body: await response.text() }
  })

/** The `content-length` a HEAD answers. */
const lengthOf = (url: string) =>
  Effect.map(scrape(url, "HEAD"), (answer) => Number(answer.headers.get("content-length")))

/** The status line's code of a request written as is on a raw socket (an absolute-form target, say). */
const rawStatus = (port: number, requestLine: string) =>
  Effect.promise(() =>
    new Promise<number>((resolve, reject) => {
      const socket = Net.connect(port, "127.0.0.1")
      let received = ""
      socket.setEncoding("latin1")
      socket.on("data", (chunk: string) => {
        received += chunk
        const status = /^HTTP\/1\.1 (\d{3})/.exec(received)
        if (status !== null) {
          socket.destroy()
          resolve(Number(status[1]))
        }
      })
      socket.on("error", reject)
      socket.write(`${requestLine}\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`)
    })
  )

/** Builds a layer in the test's scope and returns its service. */
const build = <E, R>(layer: Layer.Layer<MetricsServer.MetricsServer, E, R>) =>
  Effect.map(Layer.build(layer), (context) => Context.get(context, MetricsServer.MetricsServer))

const family = (families: ReadonlyArray<Family>, name: string): Family => {
  const found = families.find((entry) => entry.name === name)
  assert.isDefined(found, `family ${name}`)
  return found!
}

/** The one sample whose labels include `labels`. */
const sample = (of: Family, labels: Readonly<Record<string, string>>): Sample => {
  const matching = of.metrics.filter((entry) =>
    Object.entries(labels).every(([name, value]) => entry.labels?.[name] === value)
  )
  assert.strictEqual(matching.length, 1, `${of.name} ${JSON.stringify(labels)}`)
  return matching[0]!
}

/**
 * One histogram series, parsed by the same parser on its own: version 1.1.1
 * folds every labelled series of a histogram family into one and drops their
 * `_sum` and `_count`, so the series' lines are cut out (labels other than
 * `le` removed) and parsed as a family of one.
 */
const histogramSeries = (text: string, name: string, labels: Readonly<Record<string, string>>): Sample => {
  const lines = text.split("\n").filter((line) =>
    [`${name}_bucket{`, `${name}_sum{`, `${name}_count{`].some((start) => line.startsWith(start)) &&
    Object.entries(labels).every(([label, value]) => line.includes(`${label}="${value}"`))
  )
  assert.strictEqual(lines.filter((line) => line.startsWith(`${name}_count{`)).length, 1, `${name} series`)
  const stripped = lines.map((line) =>
    line.replace(/\{([^}]*)\}/, (_, inner: string) => {
      const le = /(?:^|,)le="([^"]*)"/.exec(inner)
      return le === null ? "" : `{le="${le[1]}"}`
    })
  )
  const [parsed] = parsePrometheusTextFormat(`# TYPE ${name} histogram\n${stripped.join("\n")}\n`)
  assert.strictEqual(parsed?.metrics.length, 1)
  return parsed!.metrics[0]!
}

/** A TCP connection attempt: true when something accepts it. */
const accepts = (port: number) =>
  Effect.promise(() =>
    new Promise<boolean>((resolve) => {
      const socket = Net.connect(port, "127.0.0.1")
      socket.once("connect", () => {
        socket.destroy()
        resolve(true)
      })
      socket.once("error", () => resolve(false))
    })
  )

/**
 * A client that sends the request line and then one header line every `everyMs`, never ending its headers: how
 * long until the server cuts it off, and the status line it got, if any.
 */
const slowHeaders = (port: number, everyMs: number) =>
  Effect.promise(() =>
    new Promise<{ readonly millis: number; readonly status: string }>((resolve, reject) => {
      const started = performance.now()
      const socket = Net.connect(port, "127.0.0.1")
      let received = ""
      socket.setEncoding("latin1")
      socket.on("data", (chunk: string) => {
        received += chunk
      })
      socket.on("error", () => {})
      socket.write("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n")
      const drip = setInterval(() => socket.write("X-Slow: 1\r\n"), everyMs)
      // Generous: the test fails (not hangs) when nothing cuts the client off.
      const guard = setTimeout(() => {
        clearInterval(drip)
        socket.destroy()
        reject(new Error("still connected after 40 s"))
      }, 40_000)
      socket.once("close", () => {
        clearInterval(drip)
        clearTimeout(guard)
        resolve({ millis: performance.now() - started, status: received.split("\r\n")[0] ?? "" })
      })
    })
  )

/** `GET /metrics` on a fresh connection: the status code, or `closed` when the server closed it unanswered. */
const scrapeStatus = (port: number) =>
  Effect.promise(() =>
    new Promise<string>((resolve) => {
      const socket = Net.connect(port, "127.0.0.1")
      let received = ""
      socket.setEncoding("latin1")
      socket.on("data", (chunk: string) => {
        received += chunk
      })
      socket.on("error", () => {})
      socket.once("close", () => resolve(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1] ?? "closed"))
      socket.write("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
      setTimeout(() => socket.destroy(), 5_000).unref()
    })
  )

/** A connection that sends `request` (nothing when empty) and then waits: when the server closed it. */
const held = (port: number, request = "") => {
  const started = performance.now()
  let closedAfter: number | undefined
  const socket = Net.connect(port, "127.0.0.1")
  socket.on("data", () => {})
  socket.on("error", () => {})
  socket.once("close", () => {
    closedAfter = performance.now() - started
  })
  if (request !== "") socket.write(request)
  return { socket, closedAfter: () => closedAfter }
}

describe("MetricsServer", () => {
  it.live("known traffic: 5 successful calls (2 after a retry on 503) and a 404 are scraped as the server saw them", () => {
    const metrics = MetricsTest.makeRegistry()
    return Effect.gen(function*() {
      const server = yield* TestServer.make()
      const endpoint = yield* MetricsServer.make({ port: 0 })
      const client = yield* ResilientClient.make({
        name: "prom",
        retry: { maxAttempts: 3, minDelay: 1, maxDelay: 5 }
      })
      for (let i = 0; i < 3; i++) yield* client.get(server.urlFor("/msg"))
      yield* client.post(server.urlFor("/fail/count/2?status=503"))
      yield* client.get(server.urlFor("/msg"))
      yield* client.get(server.urlFor("/msg"))
      const missing = yield* Effect.flip(client.get(server.urlFor("/status/404")))
      assert.strictEqual(missing._tag, "NotFoundError")

      const scraped = yield* scrape(endpoint.url)
      assert.strictEqual(scraped.status, 200)
      assert.strictEqual(scraped.headers.get("content-type"), MetricsServer.contentType)
      assert.strictEqual(scraped.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8")
      const families = parsePrometheusTextFormat(scraped.body)

      // What crossed the wire: 7 requests to /msg, 2 of them answered 503.
      const host = new URL(server.url).host
      const attempts = yield* server.requestsTo("/msg")
      assert.strictEqual(attempts.length, 7)
      const common = { client: "prom", method: "GET", host }

      const requests = family(families, "httpkit_client_requests_total")
      assert.strictEqual(requests.type, "COUNTER")
      const ok = sample(requests, { ...common, status: "200", status_class: "2xx", outcome: "success" })
      assert.strictEqual(Number(ok.value), 5)
      assert.strictEqual(Number(ok.value), metrics.count("httpkit_client_requests_total", ok.labels))
      const notFound = sample(requests, { ...common, status: "404", status_class: "4xx", outcome: "NotFoundError" })
      assert.strictEqual(Number(notFound.value), 1)
      const posts = sample(requests, { client: "prom", method: "POST", host, status: "200" })
      assert.strictEqual(Number(posts.value), 1)

      const retries = family(families, "httpkit_client_retries_total")
      assert.strictEqual(retries.type, "COUNTER")
      assert.strictEqual(
        Number(sample(retries, { client: "prom", host, reason: "ServiceUnavailableError" }).value),
        attempts.length - 5
      )

      assert.strictEqual(family(families, "httpkit_client_in_flight").type, "GAUGE")
      assert.strictEqual(Number(sample(family(families, "httpkit_client_in_flight"), { client: "prom" }).value), 0)

      const durations = family(families, "httpkit_client_request_duration_seconds")
      assert.strictEqual(durations.type, "HISTOGRAM")
      const gets = histogramSeries(scraped.body, "httpkit_client_request_duration_seconds", common)
      const buckets = Object.entries(gets.buckets ?? {})
      // One bucket per shared boundary, then +Inf; cumulative counts that end at the total.
      assert.strictEqual(buckets.length, MetricBoundaries.seconds.length + 1)
      const bounds = buckets.filter(([le]) => le !== "+Inf").map(([le]) => Number(le)).toSorted((a, b) => a - b)
      assert.deepStrictEqual(bounds, [...MetricBoundaries.seconds])
      const cumulative = bounds.map((bound) => Number(gets.buckets![String(bound)]))
      for (let i = 1; i < cumulative.length; i++) assert.isAtLeast(cumulative[i]!, cumulative[i - 1]!)
      assert.strictEqual(Number(gets.buckets!["+Inf"]), Number(gets.count))
      // 6 GET calls: 5 successes and the 404, each one observation.
      assert.strictEqual(Number(gets.count), 6)
      const state = metrics.series("httpkit_client_request_duration_seconds", common)?.state as {
        readonly count: number
        readonly sum: number
      }
      assert.strictEqual(Number(gets.count), state.count)
      assert.closeTo(Number(gets.sum), state.sum, 1e-9)
      assert.isAbove(Number(gets.sum), 0)
    }).pipe(Effect.scoped, Effect.provideService(Metric.MetricRegistry, metrics.registry))
  })

  it.live("HEAD answers the headers of GET without a body; POST is 405 with Allow; another path is 404; an absolute-form target is served as its path", () => {
    const metrics = MetricsTest.makeRegistry()
    return Effect.gen(function*() {
      const counter = Metric.counter("probe_total")
      yield* Metric.update(counter, 3)
      const endpoint = yield* MetricsServer.make({ port: 0, path: "/prom" })
      assert.strictEqual(endpoint.url, `http://127.0.0.1:${endpoint.port}/prom`)

      const got = yield* scrape(`${endpoint.url}?x=1`)
      assert.strictEqual(got.status, 200)
      assert.include(got.body, "probe_total 3\n")
      const head = yield* scrape(endpoint.url, "HEAD")
      assert.strictEqual(head.status, 200)
      assert.strictEqual(head.body, "")
      assert.strictEqual(head.headers.get("content-length"), String(Buffer.byteLength(got.body)))
      assert.strictEqual(head.headers.get("content-type"), MetricsServer.contentType)

      const post = yield* scrape(endpoint.url, "POST")
      assert.strictEqual(post.status, 405)
      assert.strictEqual(post.headers.get("allow"), "GET, HEAD")
      assert.strictEqual((yield* scrape(`http://127.0.0.1:${endpoint.port}/metrics`)).status, 404)

      // RFC 9112 3.2.2: a server accepts the absolute form (what a client sends through a proxy).
      assert.strictEqual(
        yield* rawStatus(endpoint.port, `GET http://127.0.0.1:${endpoint.port}/prom?x=1 HTTP/1.1`),
        200
      )
      assert.strictEqual(yield* rawStatus(endpoint.port, `GET http://127.0.0.1:${endpoint.port}/metrics HTTP/1.1`), 404)
      assert.strictEqual(yield* rawStatus(endpoint.port, `GET http://127.0.0.1:${endpoint.port}/prom/x HTTP/1.1`), 404)
    }).pipe(Effect.scoped, Effect.provideService(Metric.MetricRegistry, metrics.registry))
  })

  it.live(
    "a text that took slowScrapeMillis or more to format is served again for ten times as long, then formatted afresh; a quick one is formatted for every scrape",
    () => {
      const metrics = MetricsTest.makeRegistry()
      return Effect.gen(function*() {
        // A quick text (one series, well under the default 50 ms): every scrape sees every change.
        yield* Metric.update(Metric.counter("reuse_quick_total"), 1)
        const quick = yield* MetricsServer.make({ port: 0 })
        const quickBefore = yield* lengthOf(quick.url)
        yield* Metric.update(Metric.counter("reuse_quick_added_total"), 1)
        assert.isAbove(yield* lengthOf(quick.url), quickBefore, "a quick text is formatted afresh")

        // 50,000 series take tens of milliseconds or more; with slowScrapeMillis 0 any text is reused for 10× its time.
        for (let i = 0; i < 50_000; i++) {
          yield* Metric.update(Metric.counter("reuse_slow_total", { attributes: { i: String(i) } }), 1)
        }
        const slow = yield* MetricsServer.makeResolved({ ...MetricsConfig.defaults, port: 0 }, { slowScrapeMillis: 0 })
        const before = yield* lengthOf(slow.url)
        yield* Metric.update(Metric.counter("reuse_slow_added_total"), 1)
        assert.strictEqual(yield* lengthOf(slow.url), before, "the scrape right after reuses the text")
        // Then a fresh text within a bounded wait (the reuse lasts 10× the format time).
        const deadline = Date.now() + 30_000
        let after = before
        while (after === before && Date.now() < deadline) {
          yield* Effect.sleep("50 millis")
          after = yield* lengthOf(slow.url)
        }
        assert.isAbove(after, before, "a later scrape formats the text afresh")
      }).pipe(Effect.scoped, Effect.provideService(Metric.MetricRegistry, metrics.registry))
    },
    90_000
  )

  it.live("a taken port fails with MetricsServerError naming 127.0.0.1:<port> and EADDRINUSE; the server stops with its scope", () =>
    Effect.gen(function*() {
      const first = yield* build(MetricsServer.layer({ port: 0 }))
      const error = yield* Effect.flip(MetricsServer.makeResolved({ ...MetricsConfig.defaults, port: first.port }))
      assert.strictEqual(error._tag, "MetricsServerError")
      assert.strictEqual(error.code, "EADDRINUSE")
      assert.strictEqual(error.port, first.port)
      assert.strictEqual(error.message, `cannot serve metrics on 127.0.0.1:${first.port}: the address is in use`)

      const port = yield* Effect.scoped(Effect.gen(function*() {
        const server = yield* MetricsServer.make({ port: 0 })
        assert.isTrue(yield* accepts(server.port))
        return server.port
      }))
      assert.isFalse(yield* accepts(port))
    }).pipe(Effect.scoped))

  it.live(
    "a client that sends GET /metrics and stops reading a 20 MB scrape is cut off after idleTimeout (2 s here); a connection past maxConnections (2) is closed unanswered",
    () => {
      const metrics = MetricsTest.makeRegistry()
      return Effect.gen(function*() {
        // Enough series that the answer fills the sockets' buffers and cannot be flushed while nothing reads it.
        const label = "x".repeat(400)
        for (let i = 0; i < 50_000; i++) {
          yield* Metric.update(Metric.counter("stall_test_total", { attributes: { i: String(i), label } }), 1)
        }
        const endpoint = yield* MetricsServer.makeResolved({ ...MetricsConfig.defaults, port: 0 }, {
          idleTimeout: 2_000,
          maxConnections: 2
        })
        /**
         * Sends `GET /metrics`, reads nothing for `stallMs`, then reads to the end: what arrived, and whether the
         * body was whole (a closed socket delivers what the kernel had buffered, then its end).
         */
        const stalled = (stallMs: number) =>
          new Promise<{ readonly bytes: number; readonly whole: boolean }>((resolve, reject) => {
            const socket = Net.connect(endpoint.port, "127.0.0.1")
            const chunks: Array<Buffer> = []
            socket.once("connect", () => {
              socket.pause()
              socket.write(`GET ${endpoint.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`)
              setTimeout(() => socket.resume(), stallMs)
            })
            socket.on("data", (chunk: Buffer) => chunks.push(chunk))
            socket.on("error", () => {})
            socket.once("close", () => {
              const received = Buffer.concat(chunks)
              const head = received.indexOf("\r\n\r\n")
              const length = /content-length: (\d+)/i.exec(received.subarray(0, Math.max(head, 0)).toString())
              resolve({
                bytes: received.length,
                whole: length !== null && received.length - head - 4 >= Number(length[1])
              })
            })
            // Generous: the test fails (not hangs) if the server never closes the socket.
            setTimeout(() => {
              socket.destroy()
              reject(new Error("the server kept the connection open"))
            }, stallMs + 30_000).unref()
          })
        const [first, second, third] = yield* Effect.promise(() =>
          Promise.all([
            stalled(8_000),
            stalled(8_000),
            // Opened while the first two are stalled, read after 1 s.
            new Promise((resolve) => setTimeout(resolve, 500)).then(() => stalled(1_000))
          ])
        )
        assert.isAbove(first.bytes, 0)
        assert.isFalse(first.whole, "the first stalled scrape was cut off")
        assert.isFalse(second.whole, "the second stalled scrape was cut off")
        assert.strictEqual(third.bytes, 0)
      }).pipe(Effect.provideService(Metric.MetricRegistry, metrics.registry), Effect.scoped)
    },
    90_000
  )

  it.live(
    "a client that sends a header line every 2 s is cut off at headersTimeout (10 s by default) with 408, within a second of it, not after Node's 30 s check",
    () =>
      Effect.gen(function*() {
        const endpoint = yield* MetricsServer.make({ port: 0 })
        const cut = yield* slowHeaders(endpoint.port, 2_000)
        assert.isAtLeast(cut.millis, 9_500, JSON.stringify(cut))
        assert.isBelow(cut.millis, 12_500, JSON.stringify(cut))
        assert.strictEqual(cut.status, "HTTP/1.1 408 Request Timeout")
        // The endpoint still answers.
        assert.strictEqual(yield* scrapeStatus(endpoint.port), "200")
      }).pipe(Effect.scoped),
    60_000
  )

  it.live(
    "150 connections that send nothing against maxConnections (64): a scrape is answered at once (the connection idle the longest makes room), the idle ones are closed by headersTimeout (1 s); a kept-alive connection is closed after keepAliveTimeout (500 ms) plus Node's second",
    () =>
      Effect.gen(function*() {
        const endpoint = yield* MetricsServer.makeResolved({ ...MetricsConfig.defaults, port: 0 }, {
          headersTimeout: 1_000,
          keepAliveTimeout: 500
        })
        const idle = Array.from({ length: 150 }, () => held(endpoint.port))
        yield* Effect.addFinalizer(() => Effect.sync(() => idle.forEach((connection) => connection.socket.destroy())))
        yield* Effect.sleep("300 millis")
        assert.strictEqual(yield* scrapeStatus(endpoint.port), "200", "a scrape while 150 idle connections are open")
        // Every idle connection was closed by the server: made room for a newer one, or at headersTimeout.
        const started = performance.now()
        while (
          idle.some((connection) => connection.closedAfter() === undefined) && performance.now() - started < 10_000
        ) {
          yield* Effect.sleep("100 millis")
        }
        for (const connection of idle) {
          const after = connection.closedAfter()
          assert.isDefined(after)
          assert.isBelow(after!, 3_500)
        }

        const kept = held(endpoint.port, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        yield* Effect.addFinalizer(() => Effect.sync(() => kept.socket.destroy()))
        const keptStarted = performance.now()
        while (kept.closedAfter() === undefined && performance.now() - keptStarted < 10_000) {
          yield* Effect.sleep("100 millis")
        }
        assert.isDefined(kept.closedAfter())
        assert.isAtLeast(kept.closedAfter()!, 400)
        assert.isBelow(kept.closedAfter()!, 3_000)
      }).pipe(Effect.scoped),
    60_000
  )

  it.live("layerConfig reads HTTPKIT_METRICS_PORT, _HOST and _PATH", () =>
    Effect.gen(function*() {
      const endpoint = yield* withEnv(
        { HTTPKIT_METRICS_PORT: "0", HTTPKIT_METRICS_HOST: "127.0.0.1", HTTPKIT_METRICS_PATH: "/internal/metrics" },
        build(MetricsServer.layerConfig())
      )
      assert.strictEqual(endpoint.path, "/internal/metrics")
      assert.notStrictEqual(endpoint.port, 0)
      assert.strictEqual((yield* scrape(endpoint.url)).status, 200)
      assert.deepStrictEqual(yield* withEnv({}, MetricsConfig.fromConfig()), MetricsConfig.defaults)
    }).pipe(Effect.scoped))

  it.effect("invalid HTTPKIT_METRICS_* variables fail with MetricsConfigError naming each variable, all at once", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        withEnv({ HTTPKIT_METRICS_PORT: "http", HTTPKIT_METRICS_PATH: "metrics" }, MetricsConfig.fromConfig())
      )
      assert.strictEqual(error._tag, "MetricsConfigError")
      assert.deepStrictEqual(error.problems.map((problem) => problem.setting).toSorted(), [
        "HTTPKIT_METRICS_PATH",
        "HTTPKIT_METRICS_PORT"
      ])
      assert.include(
        error.message,
        "HTTPKIT_METRICS_PORT is \"http\", expected a port from 0 to 65535 (0: any free port)"
      )
      assert.include(
        error.message,
        "HTTPKIT_METRICS_PATH is \"metrics\", expected a path starting with /, of ASCII letters, digits and -._~!$&'()*+,;=:@%/ only (RFC 3986 path characters)"
      )
      assert.match(error.message, /^invalid metrics endpoint configuration: /)

      const inCode = yield* Effect.flip(MetricsServer.make({ port: 70000 }).pipe(Effect.scoped))
      assert.strictEqual(
        inCode.message,
        "invalid metrics endpoint configuration: port is 70000, expected a port from 0 to 65535 (0: any free port)"
      )
    }))

  it.effect("a metrics path with non-ASCII, \\, | or a space (never served: 404) fails with MetricsConfigError naming HTTPKIT_METRICS_PATH or path; RFC 3986 path characters pass", () =>
    Effect.gen(function*() {
      for (const path of ["/métrics", "/m\\x", "/m|x", "/m x", "/m?x", "/m#x", "metrics"]) {
        const fromEnv = yield* Effect.flip(withEnv({ HTTPKIT_METRICS_PATH: path }, MetricsConfig.fromConfig()))
        assert.deepStrictEqual(fromEnv.problems.map((problem) => problem.setting), ["HTTPKIT_METRICS_PATH"], path)
        const inCode = yield* Effect.flip(MetricsConfig.resolve({ path }))
        assert.deepStrictEqual(inCode.problems.map((problem) => problem.setting), ["path"], path)
      }
      for (const path of ["/metrics", "/a%2Fb", "/v1/metrics;x=1", "/~m_(1)!$&'*+,=:@-."]) {
        assert.strictEqual((yield* MetricsConfig.resolve({ path })).path, path)
      }
    }))

  it.effect("HTTPKIT_METRICS_PORT of 1e3, +80 or 08080 fails with MetricsConfigError naming it; plain digits 0 to 65535 pass", () =>
    Effect.gen(function*() {
      for (const port of ["1e3", "+80", "08080", "-0", "80.0"]) {
        const error = yield* Effect.flip(withEnv({ HTTPKIT_METRICS_PORT: port }, MetricsConfig.fromConfig()))
        assert.strictEqual(
          error.message,
          `invalid metrics endpoint configuration: HTTPKIT_METRICS_PORT is ${
            JSON.stringify(port)
          }, expected a port from 0 to 65535 (0: any free port)`
        )
      }
      for (const port of ["0", "80", "65535"]) {
        const resolved = yield* withEnv({ HTTPKIT_METRICS_PORT: port }, MetricsConfig.fromConfig())
        assert.strictEqual(resolved.port, Number(port))
      }
    }))

  it.effect("an unknown HTTPKIT_METRICS_* variable is a warning naming the closest known one; beside HTTPKIT_METRICS, the client's switch, both are read", () =>
    Effect.gen(function*() {
      const lines: Array<unknown> = []
      const logger = Logger.make((options) => {
        if (options.logLevel === "Warn") lines.push(options.message)
      })
      const resolved = yield* withEnv(
        { HTTPKIT_METRICS_PROT: "9100", HTTPKIT_METRICS: "true", HTTPKIT_METRICS_PATH: "/m" },
        MetricsConfig.fromConfig()
      ).pipe(Effect.provideService(Logger.CurrentLoggers, new Set([logger])))
      assert.deepStrictEqual(lines, [[
        "HTTPKIT_METRICS_PROT is not a known setting of @httpkit/metrics and is ignored; " +
        "did you mean HTTPKIT_METRICS_PORT?"
      ]])
      assert.deepStrictEqual(resolved, { ...MetricsConfig.defaults, path: "/m" })

      // The client reads HTTPKIT_* but leaves HTTPKIT_METRICS_* to this package.
      lines.length = 0
      yield* withEnv({ HTTPKIT_METRICS_PROT: "9100", HTTPKIT_METRICS_PORT: "9100" }, ClientConfig.fromConfig()).pipe(
        Effect.provideService(Logger.CurrentLoggers, new Set([logger]))
      )
      assert.deepStrictEqual(lines, [])
      // ...and still reads its own switch HTTPKIT_METRICS beside them.
      const client = yield* withEnv(
        { HTTPKIT_METRICS: "false", HTTPKIT_METRICS_PORT: "9100" },
        ClientConfig.fromConfig()
      )
      assert.isFalse(client.metrics)
    }))

  it("@httpkit/core's table lists exactly the variables MetricsConfig.Options reads", () => {
    assert.deepStrictEqual(Settings.namesOf(MetricsConfig.Options), Settings.metrics.names)
  })
})
