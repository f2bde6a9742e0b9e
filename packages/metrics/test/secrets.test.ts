/**
 * No secret leaves through telemetry: a `ResilientClient` sends a bearer
 * token (`Auth`), an API key header, cookies (from its jar and as a header),
 * tokens in the query string and a password in the URL's user-info to the
 * fault-injection server, with attempt logging on, retries and failures;
 * everything is exported over OTLP to a local receiver and scraped from the
 * Prometheus endpoint, and every exported byte is searched for each secret,
 * as it is and percent-encoded.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Auth from "@httpkit/client/Auth"
import * as CookieJar from "@httpkit/client/CookieJar"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import * as MetricsTest from "@httpkit/testing/MetricsTest"
import * as TestServer from "@httpkit/testing/TestServer"
import { Effect, Metric } from "effect"
import { randomUUID } from "node:crypto"
import * as MetricsServer from "../src/MetricsServer.ts"
import * as OtlpExport from "../src/OtlpExport.ts"
import * as Receiver from "./support/otlpReceiver.ts"

/** Where `needle` occurs in a JSON value: the paths of the strings holding it, with the attribute key when there is one. */
const locate = (value: unknown, needle: string, path = ""): Array<string> => {
  if (typeof value === "string") return value.includes(needle) ? [path] : []
  if (Array.isArray(value)) return value.flatMap((item, index) => locate(item, needle, `${path}[${index}]`))
  if (typeof value === "object" && value !== null) {
    const key = (value as { key?: unknown }).key
    const at = typeof key === "string" ? `${path}{${key}}` : path
    return Object.entries(value).flatMap(([name, item]) => locate(item, needle, `${at}.${name}`))
  }
  return []
}

/** A secret as it may be written: as it is, percent-encoded, form-encoded. */
const formsOf = (secret: string): ReadonlyArray<string> => [
  ...new Set([secret, encodeURIComponent(secret), new URLSearchParams({ s: secret }).toString().slice(2)])
]

describe("secrets in telemetry", () => {
  it.live(
    "a bearer token, an API key, two cookies, two query tokens and a URL password appear in no exported span, metric, log record or Prometheus line",
    () => {
      const metrics = MetricsTest.makeRegistry()
      const id = randomUUID().replaceAll("-", "")
      const secrets = {
        bearer: `b3arer.${id}`,
        apiKey: `ap1key-${id}`,
        jarCookie: `c00kie-${id}`,
        headerCookie: `hdrc00kie-${id}`,
        accessToken: `qu/ery+${id}=`,
        apiKeyParam: `par4m ${id}&`,
        password: `pa55-${id}`
      }
      return Effect.gen(function*() {
        const receiver = yield* Receiver.make
        const server = yield* TestServer.make()
        const port = new URL(server.url).port
        const prometheus = yield* Effect.gen(function*() {
          const endpoint = yield* MetricsServer.make({ port: 0 })
          const auth = yield* Auth.bearer(secrets.bearer)
          const jar = yield* CookieJar.makeMemory()
          const client = yield* ResilientClient.make({
            name: "secrets",
            retry: { maxAttempts: 3, minDelay: 1, maxDelay: 5 },
            logging: { level: "info" }
          }).pipe(Effect.provideService(Auth.ClientAuth, auth), Effect.provideService(CookieJar.ClientCookies, jar))
          const token = encodeURIComponent(secrets.accessToken)
          const apiKey = { headers: { "x-api-key": secrets.apiKey } }

          // The server takes our bearer token as its current one (the token travels in the query too).
          yield* client.post(server.urlFor(`/auth/rotate?token=${encodeURIComponent(secrets.bearer)}`))
          yield* client.get(server.urlFor("/auth/bearer"), apiKey)
          yield* client.get(server.urlFor(`/cookies/set?session=${secrets.jarCookie}`))
          yield* client.get(server.urlFor("/cookies"))
          // A client without a jar sends a cookie header of its own (a jar replaces it).
          const plain = yield* ResilientClient.make({ name: "secrets-plain", logging: { level: "info" } })
          yield* plain.get(server.urlFor("/cookies"), { headers: { cookie: `pref=${secrets.headerCookie}` } })
          // Two 503s retried, then a success.
          yield* client.post(server.urlFor("/fail/count/2?status=503"))
          yield* client.get(server.urlFor(`/msg?access_token=${token}`), apiKey)
          // A failure after every attempt, and a redirect chain that carries the token.
          const failed = yield* Effect.flip(client.get(server.urlFor(`/status/500?access_token=${token}`), apiKey))
          assert.strictEqual(failed._tag, "ServerError")
          yield* client.get(server.urlFor(`/redirect/2?access_token=${token}`), apiKey)
          yield* client.get(server.urlFor("/echo"), { query: { api_key: secrets.apiKeyParam } })
          // User-info in the URL: sent or refused, it must not be exported.
          yield* Effect.result(client.get(`http://user:${secrets.password}@127.0.0.1:${port}/msg`))
          yield* Effect.logInfo("traffic done")

          const response = yield* Effect.promise(() => fetch(endpoint.url).then((answer) => answer.text()))
          return response
        }).pipe(
          Effect.withSpan("secrets-app"),
          Effect.scoped,
          Effect.provide(OtlpExport.layer({ baseUrl: receiver.url, serviceName: "secrets", exportInterval: "1 hour" }))
        )

        // The secrets did cross the wire.
        const log = yield* server.requests
        assert.isTrue(log.some((request) => request.headers["authorization"] === `Bearer ${secrets.bearer}`))
        assert.isTrue(log.some((request) => request.headers["x-api-key"] === secrets.apiKey))
        assert.isTrue(log.some((request) => (request.headers["cookie"] ?? "").includes(secrets.jarCookie)))
        assert.isTrue(log.some((request) => (request.headers["cookie"] ?? "").includes(secrets.headerCookie)))
        assert.isTrue(
          log.some((request) => new URLSearchParams(request.query).get("access_token") === secrets.accessToken)
        )
        assert.isTrue(log.some((request) => new URLSearchParams(request.query).get("api_key") === secrets.apiKeyParam))
        assert.isAtLeast(log.filter((request) => request.path === "/msg").length, 3)

        // Something was exported to search: spans with HTTP attributes, the client's metrics, attempt logs.
        const spans = receiver.spans()
        assert.isAtLeast(
          spans.filter((span) => Receiver.attributesOf(span.attributes)["http.request.method"] !== undefined).length,
          10
        )
        const names = new Set(receiver.metrics().map((metric) => metric.name))
        assert.isTrue(names.has("httpkit_client_requests_total"))
        assert.isTrue(names.has("httpkit_client_retries_total"))
        assert.isAtLeast(receiver.logs().filter((record) => record.body.stringValue === "http attempt").length, 10)
        assert.include(prometheus, "httpkit_client_requests_total{")

        const leaks: Array<string> = []
        for (const [name, secret] of Object.entries(secrets)) {
          for (const form of formsOf(secret)) {
            for (const entry of receiver.received()) {
              if (!entry.bytes.toString("utf8").includes(form)) continue
              const where = entry.json === undefined ? ["(body)"] : locate(entry.json, form)
              leaks.push(...where.map((path) => `${name} in ${entry.path} at ${path}`))
            }
            if (prometheus.includes(form)) {
              leaks.push(
                ...prometheus.split("\n").filter((line) => line.includes(form)).map((line) =>
                  `${name} in Prometheus: ${line.replace(form, "<secret>")}`
                )
              )
            }
          }
        }
        assert.deepStrictEqual(leaks, [])
      }).pipe(Effect.scoped, Effect.provideService(Metric.MetricRegistry, metrics.registry))
    }
  )
})
