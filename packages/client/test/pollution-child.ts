/**
 * The polluted half of `pollution.test.ts`, run as a child process (polluting
 * `Object.prototype` inside the vitest worker would reach vitest itself).
 *
 * For each key named on the command line it sets `Object.prototype[key]` to a
 * hostile value, makes the calls a user would make through `ResilientClient`
 * (a client built while polluted, its calls run while polluted), deletes the
 * key again, and prints one JSON line: what each call returned, the client's
 * resolved configuration, and how often a planted function (a `lookup`, a
 * `connect`, a `factory`...) was called. The parent owns the servers, which
 * record what reached them, and judges.
 *
 * Usage: `node pollution-child.ts <json>` with `{ url, tlsUrl, socketPath,
 * trapPort, cert, keys }`; `keys` may include `""` for an unpolluted baseline.
 */
import { Cause, Duration, Effect, Stream } from "effect"
import { createSecureContext } from "node:tls"
import * as Auth from "../src/Auth.ts"
import * as CookieJar from "../src/CookieJar.ts"
import * as ResilientClient from "../src/ResilientClient.ts"

interface Input {
  /** The fault-injection server, plain HTTP. */
  readonly url: string
  /** The same server over TLS with a certificate the client does not trust. */
  readonly tlsUrl: string
  /** A UNIX socket that records every connection. */
  readonly socketPath: string
  /** A TCP port on 127.0.0.1 that records every connection. */
  readonly trapPort: number
  /** The TLS server's certificate (PEM), planted as `ca` and friends. */
  readonly cert: string
  readonly keys: ReadonlyArray<string>
}

const input = JSON.parse(process.argv[2]!) as Input
// Node makes its stdio streams on first use: make them now, before any key is polluted.
const stdout = process.stdout
const stderr = process.stderr

/** How often each planted function ran, for the key being polluted. */
let planted: Record<string, number> = {}
const spy = (name: string, result: (...args: Array<any>) => unknown) => (...args: Array<any>) => {
  planted[name] = (planted[name] ?? 0) + 1
  return result(...args)
}

/** A hostile value for `key`: what would hurt most if the client or undici or Node picked it up. */
const hostile = (key: string): unknown => {
  switch (key) {
    // Where the connection goes.
    case "socketPath":
    case "path":
      return input.socketPath
    case "origin":
    case "baseUrl":
      return `http://127.0.0.1:${input.trapPort}`
    case "host":
    case "hostname":
    case "servername":
      return "127.0.0.3"
    case "port":
    case "localPort":
    case "defaultPort":
      return input.trapPort
    case "localAddress":
      return "192.0.2.1"
    case "family":
      return 6
    case "fd":
      return 987_654
    case "lookup":
      return spy(
        "lookup",
        (_host: string, _options: unknown, callback: (...args: Array<unknown>) => void) =>
          callback(null, "127.0.0.3", 4)
      )
    case "connect":
      // undici's `connect` option as an object: socket options for every connection. (A function would be
      // called by Node's own `EventEmitter` as a "connect" listener, whatever the client does.)
      return { socketPath: input.socketPath, path: input.socketPath, timeout: 1 }
    case "factory":
      return spy("factory", () => {
        throw new Error("polluted factory")
      })
    case "dispatcher":
      return {
        dispatch: spy("dispatcher", () => false),
        request: spy("dispatcher", () => Promise.reject(new Error("polluted dispatcher")))
      }
    case "signal":
      return AbortSignal.abort(new Error("polluted signal"))
    case "onInfo":
    case "onread":
    case "checkServerIdentity":
    case "SNICallback":
    case "pskCallback":
    case "ALPNCallback":
    case "createConnection":
      return spy(key, () => undefined)
    // What is sent.
    case "headers":
      return { "x-polluted": "headers" }
    case "userAgent":
      return "polluted-agent/6.6"
    case "method":
      return "DELETE"
    case "body":
      return "polluted body"
    case "json":
      return { polluted: "json" }
    case "query":
      return { polluted: "query" }
    case "requestId":
      return "polluted-request-id"
    case "idempotencyKey":
      return "polluted-idempotency-key"
    case "requestIdHeader":
    case "idempotencyKeyHeader":
      return "x-polluted-name"
    case "upgrade":
      return "websocket"
    case "expectContinue":
    case "reset":
    case "blocking":
    case "throwOnError":
    case "useH2c":
    case "preferH2":
    case "dangerouslyDisableVerification":
    case "rejectUnauthorized":
    case "idempotencyKeys":
    case "allowDowngrade":
    case "perHost":
    case "jitter":
      return key !== "rejectUnauthorized"
    case "responseHeaders":
      return "raw"
    // TLS trust.
    case "ca":
    case "cert":
      return input.cert
    case "secureContext":
      return createSecureContext({ ca: input.cert })
    // Numbers that break or slow a request.
    case "timeout":
      return { connect: 1, headers: 1, idle: 1, attempt: 1, total: 1 }
    case "retry":
      return { maxAttempts: 1, statuses: [], minDelay: 5_000, maxDelay: 5_000 }
    case "acceptStatus":
      return () => false
    case "rateLimit":
      return { key: "polluted", tokens: -1 }
    case "maxAttempts":
      return 1
    case "statuses":
    case "methods":
    case "secretHeaders":
      return []
    case "minDelay":
    case "maxDelay":
    case "retryAfterCeiling":
    case "openDuration":
      return 5_000
    case "multiplier":
      return 1_000
    case "maxHops":
    case "maxConcurrency":
    case "connections":
    case "connectionsPerOrigin":
    case "failureThreshold":
    case "maxBodyBytes":
    case "maxHeaderSize":
    case "maxResponseSize":
    case "maxRequestsPerClient":
    case "pipelining":
    case "maxOrigins":
    case "maxCachedSessions":
    case "keepAliveTimeout":
    case "keepAliveMaxTimeout":
    case "keepAliveTimeoutThreshold":
    case "headersTimeout":
    case "bodyTimeout":
    case "connectTimeout":
    case "attempt":
    case "total":
    case "idle":
    case "acquireTimeout":
    case "highWaterMark":
    case "maxConcurrentStreams":
    case "initialWindowSize":
    case "connectionWindowSize":
    case "pingInterval":
    case "clientTtl":
    case "autoSelectFamilyAttemptTimeout":
    case "keepAliveInitialDelay":
    case "typeOfService":
    case "hints":
      return key === "maxCachedSessions" || key === "connections" || key === "maxOrigins" ? -1 : 1
    case "follow":
    case "enabled":
    case "http2":
    case "allowH2":
    case "metrics":
    case "idempotent":
    case "noDelay":
    case "autoSelectFamily":
    case "strictContentLength":
      return false
    case "keyBy":
      return "host"
    case "level":
      return "error"
    case "name":
      return "polluted-name"
    case "logging":
      return { level: "error", json: true }
    case "circuitBreaker":
      return { enabled: false, failureThreshold: 1 }
    case "bulkhead":
      return { maxConcurrency: 1, acquireTimeout: 1 }
    case "redirects":
      return { follow: false, maxHops: 0 }
    case "pool":
      return { connectionsPerOrigin: 1, keepAliveTimeout: 1 }
    case "tls":
      return { ca: input.cert, dangerouslyDisableVerification: true, rejectUnauthorized: false }
    // Auth, cookies, streams.
    case "onUnauthorized":
      // The server's current token: picked up, it would turn the 401 into a success.
      return Effect.succeed("token-1")
    case "refreshTimeout":
      return 1
    case "version":
      return "polluted-version"
    case "maxCookies":
    case "maxCookiesPerDomain":
    case "maxCookieBytes":
      return 0
    case "file":
      return input.socketPath
    case "range":
      return { start: 5, end: 6 }
    // Error fields: a Retry-After past the ceiling (the 503 would not be retried), a status on every error.
    case "retryAfterMillis":
      return 120_000
    case "status":
      return 599
    default:
      // Options that Node or undici reject when present at all (`keepAlive`, `socketTimeout`...), and the rest.
      return true
  }
}

const plainSets = (_key: string, value: unknown) => value instanceof Set ? [...value].toSorted() : value

/** A call's result or its error's tag, given up after 15 s. */
const outcome = <A>(effect: Effect.Effect<A, { readonly _tag: string }>) =>
  Effect.matchCause(Effect.timeout(effect, Duration.seconds(15)), {
    onSuccess: (value) => ({ ok: true, value: value as unknown }),
    onFailure: (cause) => {
      const squashed = Cause.squash(cause) as { readonly _tag?: unknown }
      return { ok: false, error: typeof squashed?._tag === "string" ? squashed._tag : String(squashed) }
    }
  })

/** What the caller sees of an `/echo` answer: its status, its content type, and what the server echoed. */
const echoed = (response: ResilientClient.ClientResponse) =>
  Effect.map(response.json, (echo) => ({
    status: response.status,
    contentType: response.headers["content-type"],
    requestId: (echo as { headers: Record<string, string> }).headers["x-request-id"],
    echo
  }))

/** The calls a user makes, with one client configured as little as possible and one configured in part. */
const calls = (marker: string) =>
  Effect.scoped(Effect.gen(function*() {
    const bare = yield* ResilientClient.make()
    const partial = yield* ResilientClient.make({
      baseUrl: input.url,
      retry: { minDelay: 1, maxDelay: 5 },
      timeout: { total: "20 seconds" }
    })
    const trusted = yield* ResilientClient.make({ tls: { ca: input.cert } })
    const getEcho = yield* outcome(Effect.flatMap(bare.get(`${input.url}/echo?probe=${marker}&call=get`), echoed))
    const postEcho = yield* outcome(
      Effect.flatMap(
        partial.post(`/echo?probe=${marker}&call=post`, { json: { hello: "world" }, headers: { "x-call": "post" } }),
        echoed
      )
    )
    const streamed = yield* outcome(
      partial.stream(`/echo?probe=${marker}&call=stream`, { headers: { "x-call": "stream" } }).pipe(
        Stream.decodeText,
        Stream.mkString,
        Effect.map((text) => JSON.parse(text) as unknown)
      )
    )
    const auth = yield* Auth.bearer("not-the-token", { refreshTimeout: "5 seconds" })
    const authed = yield* Effect.provideService(ResilientClient.make({ baseUrl: input.url }), Auth.ClientAuth, auth)
    const unauthorized = yield* outcome(authed.get(`/auth/bearer?probe=${marker}&call=auth`))
    const jar = yield* CookieJar.makeMemory({ maxCookieBytes: 4096 })
    const withJar = yield* Effect.provideService(
      ResilientClient.make({ baseUrl: input.url }),
      CookieJar.ClientCookies,
      jar
    )
    const cookies = yield* outcome(
      withJar.get(`/cookies/set?probe=${marker}&call=cookies-set&session=one`).pipe(
        Effect.andThen(withJar.get(`/cookies?probe=${marker}&call=cookies`)),
        Effect.flatMap((response) => response.json)
      )
    )
    const notFound = yield* outcome(partial.get(`/status/404?probe=${marker}&call=404`))
    const unavailable = yield* outcome(partial.get(`/status/503?probe=${marker}&call=503`))
    const untrusted = yield* outcome(bare.get(`${input.tlsUrl}/echo?probe=${marker}&call=tls`))
    const overTls = yield* outcome(Effect.flatMap(trusted.get(`${input.tlsUrl}/echo?probe=${marker}&call=h2`), echoed))
    return {
      getEcho,
      postEcho,
      streamed,
      notFound,
      unavailable,
      untrusted,
      overTls,
      unauthorized,
      cookies,
      config: JSON.parse(JSON.stringify({ bare: bare.config, partial: partial.config }, plainSets))
    }
  }))

const run = async (key: string) => {
  const marker = `k_${key}`
  planted = {}
  stderr.write(`[child] start ${key}\n`)
  const started = Date.now()
  let result: unknown
  const proto = Object.prototype as Record<string, unknown>
  if (key !== "") proto[key] = hostile(key)
  try {
    result = await Promise.race([
      Effect.runPromise(calls(marker)),
      new Promise((resolve) => setTimeout(() => resolve({ hung: true }), 30_000).unref())
    ])
  } catch (error) {
    result = { threw: String(error) }
  } finally {
    if (key !== "") delete proto[key]
  }
  stdout.write(
    `@@pollution ${JSON.stringify({ key, marker, elapsedMs: Date.now() - started, planted, ...(result as object) })}\n`
  )
}

for (const key of input.keys) await run(key)
