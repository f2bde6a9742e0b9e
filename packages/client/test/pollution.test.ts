/**
 * RELIABILITY 10: every option is read by its own keys only, so a polluted
 * `Object.prototype` changes no request.
 *
 * One child process (`pollution-child.ts`) takes each option name in turn,
 * sets `Object.prototype[name]` to a hostile value (a header record, a user
 * agent, the path of a UNIX socket planted here, a bogus host or port, a
 * trusted certificate, `true`, a number, a function that counts its calls),
 * builds clients and makes a user's calls while polluted, then deletes the
 * key. The servers run here, unpolluted, and record what reached them. Each
 * name must leave everything as the unpolluted baseline had it: what the
 * fault-injection server saw (method, path, query, header names and values,
 * the normal User-Agent), what the caller got (statuses, bodies, error tags,
 * the resolved configuration), no planted function called, and no connection
 * to the planted socket or port.
 *
 * The names: every option of `ClientConfig.Options` (nested ones too), every
 * per-call option, the options of `Auth`, `CookieJar` and `stream`, every
 * option undici and Node's `net`/`tls` read when connecting and sending, and
 * the optional fields of the client's errors that retries and the breaker read.
 */
import { assert, describe, it } from "@effect/vitest"
import { NodeChild } from "@httpkit/testing"
import { Effect, Exit, Scope } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import * as Net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll } from "vitest"
import { plainAndTlsServers } from "./support.ts"

/** `ClientConfig.Options`, nested names included, and what only code can set. */
const configNames = [
  "name",
  "baseUrl",
  "headers",
  "userAgent",
  "timeout",
  "connect",
  "idle",
  "attempt",
  "total",
  "retry",
  "maxAttempts",
  "minDelay",
  "maxDelay",
  "multiplier",
  "jitter",
  "statuses",
  "retryAfterCeiling",
  "methods",
  "idempotencyKeys",
  "circuitBreaker",
  "enabled",
  "failureThreshold",
  "openDuration",
  "keyBy",
  "bulkhead",
  "maxConcurrency",
  "acquireTimeout",
  "perHost",
  "redirects",
  "follow",
  "maxHops",
  "allowDowngrade",
  "http2",
  "pool",
  "connectionsPerOrigin",
  "keepAliveTimeout",
  "tls",
  "ca",
  "dangerouslyDisableVerification",
  "logging",
  "level",
  "json",
  "metrics",
  "maxBodyBytes",
  "requestIdHeader",
  "idempotencyKeyHeader",
  "secretHeaders",
  "retrySchedule"
]

/** Per-call options (`ResilientClient.RequestOptions`, `stream`'s `range`), `Auth`'s and `CookieJar`'s. */
const callNames = [
  "query",
  "body",
  "idempotencyKey",
  "requestId",
  "acceptStatus",
  "rateLimit",
  "key",
  "tokens",
  "schedule",
  "range",
  "start",
  "end",
  "onUnauthorized",
  "refreshTimeout",
  "version",
  "maxCookies",
  "maxCookiesPerDomain",
  "maxCookieBytes",
  "file",
  "onCorrupt",
  "persistSessionCookies"
]

/**
 * What undici's agent, pools, clients, requests, request handler and HTTP/2
 * streams, and Node's `net.connect`, `tls.connect` and streams, read from
 * their options or from themselves, and the events Node emits on sockets and
 * streams (`pollution-undici.test.ts` sets many of them at once, before the
 * first request of a process).
 */
const transportNames = [
  "socketPath",
  "path",
  "origin",
  "host",
  "hostname",
  "port",
  "method",
  "servername",
  "lookup",
  "localAddress",
  "localPort",
  "family",
  "hints",
  "fd",
  "handle",
  "rejectUnauthorized",
  "cert",
  "secureContext",
  "pfx",
  "passphrase",
  "checkServerIdentity",
  "maxRedirections",
  "dispatcher",
  "reset",
  "blocking",
  "upgrade",
  "headersTimeout",
  "bodyTimeout",
  "idempotent",
  "responseHeaders",
  "throwOnError",
  "expectContinue",
  "allowH2",
  "useH2c",
  "preferH2",
  "factory",
  "maxOrigins",
  "connections",
  "connectTimeout",
  "maxCachedSessions",
  "autoSelectFamily",
  "autoSelectFamilyAttemptTimeout",
  "clientTtl",
  "keepAlive",
  "socketTimeout",
  "requestTimeout",
  "idleTimeout",
  "maxKeepAliveTimeout",
  "keepAliveMaxTimeout",
  "keepAliveTimeoutThreshold",
  "maxHeaderSize",
  "maxResponseSize",
  "maxRequestsPerClient",
  "pipelining",
  "strictContentLength",
  "maxConcurrentStreams",
  "initialWindowSize",
  "connectionWindowSize",
  "pingInterval",
  "h2Options",
  "webSocket",
  "opaque",
  "onInfo",
  "highWaterMark",
  "typeOfService",
  "session",
  "noDelay",
  "keepAliveInitialDelay",
  "allowHalfOpen",
  "readable",
  "onread",
  "ALPNProtocols",
  "SNICallback",
  "minVersion",
  "maxVersion",
  "ciphers",
  "response",
  "trailers",
  "aborted",
  "frameError",
  "continue",
  "signal",
  "error",
  "endHandler",
  "errorHandler",
  "onBodySent",
  "onRequestSent",
  "onResponseStarted",
  "readableHighWaterMark",
  "writableHighWaterMark",
  "enableConnectProtocol",
  "maxConcurrentStreams",
  "removeListener",
  "pause",
  "resume",
  "finish",
  "ready",
  "undefined",
  "next"
]

/**
 * Optional fields of the client's errors that code decides on: a polluted one must not make a 503 without
 * `Retry-After` wait past the ceiling (no retry), nor show in a message or the breaker's count.
 */
const errorFieldNames = ["status", "retryAfterMillis"]

/**
 * Not tested, because they break Node or JavaScript whatever a library does:
 * `writable` (and `get`, `set`, `value`) on `Object.prototype` changes every
 * property descriptor; `blockList` (like `encoding`, `objectMode` and
 * `typeOfService`, see `pollution-undici.test.ts`) is read by `TLSSocket`
 * from an options object of its own and refuses every TLS connection;
 * `newListener` set to a value that is not an object makes every Node socket
 * throw as it is made (it listens to itself in its constructor); `return`
 * breaks every array destructuring (`const [a, b] = pair` calls the array
 * iterator's `return`, found on `Object.prototype`).
 */
const outsideOurReach: ReadonlyArray<string> = ["writable", "blockList", "newListener", "return"]

/** How long the child may take over every name (each of its calls gives up after 15 s). */
const childTimeout = 240_000

const names = [...new Set([...configNames, ...callNames, ...transportNames, ...errorFieldNames])].filter((name) =>
  !outsideOurReach.includes(name)
)

interface Call {
  readonly ok: boolean
  readonly value?: unknown
  readonly error?: string
}

interface Outcome {
  readonly key: string
  readonly marker: string
  readonly planted: Record<string, number>
  readonly threw?: string
  readonly hung?: boolean
  readonly crashed?: string
  readonly getEcho?: Call
  readonly postEcho?: Call
  readonly streamed?: Call
  readonly overTls?: Call
  readonly untrusted?: Call
  readonly unauthorized?: Call
  readonly cookies?: Call
  readonly notFound?: Call
  readonly unavailable?: Call
  readonly config?: unknown
}

interface Recorded {
  readonly method: string
  readonly path: string
  readonly query: string
  readonly headers: Readonly<Record<string, string>>
}

/** Headers that differ from one call to the next whatever happens: ids, trace context, the port in `host`. */
const volatileHeaders = new Set(["x-request-id", "b3", "traceparent", "host"])

/** An `/echo` answer, or a recorded request, without what changes on every call. */
const steadyEcho = (
  echo: { readonly query?: unknown; readonly headers?: Record<string, string> },
  over: "any" | "tls"
) => {
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(echo.headers ?? {})) {
    // Over TLS the call may go over HTTP/1.1 instead of HTTP/2, which adds `connection` (see undiciClient.ts).
    if (!volatileHeaders.has(name) && !(over === "tls" && name === "connection")) headers[name] = value
  }
  const query = { ...(echo.query as Record<string, string> | undefined) }
  delete query.probe
  return { ...echo, query, headers }
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

const steadyCall = (call: Call | undefined, over: "any" | "tls" = "any"): unknown => {
  if (call === undefined || !call.ok) return call
  const value = call.value as {
    readonly status?: number
    readonly contentType?: string
    readonly requestId?: string
    readonly echo?: { readonly query?: unknown; readonly headers?: Record<string, string> }
    readonly cookies?: Record<string, string>
  }
  if (value.cookies !== undefined) {
    const cookies = { ...value.cookies }
    delete cookies.probe
    return { cookies }
  }
  if (value.echo === undefined) return steadyEcho(value as never, over)
  return {
    status: value.status,
    contentType: value.contentType,
    requestIdIsGenerated: uuid.test(value.requestId ?? ""),
    echo: steadyEcho(value.echo, over)
  }
}

/** What the caller saw, comparable with the baseline. */
const view = (outcome: Outcome) => ({
  failedToRun: outcome.crashed ?? outcome.threw ?? (outcome.hung === true ? "hung" : undefined),
  getEcho: steadyCall(outcome.getEcho),
  postEcho: steadyCall(outcome.postEcho),
  streamed: steadyCall(outcome.streamed),
  overTls: steadyCall(outcome.overTls, "tls"),
  untrusted: outcome.untrusted,
  unauthorized: outcome.unauthorized,
  cookies: steadyCall(outcome.cookies),
  notFound: outcome.notFound,
  unavailable: outcome.unavailable,
  config: outcome.config,
  planted: outcome.planted
})

/** What a server saw of one key's calls, comparable with the baseline. */
const seen = (records: ReadonlyArray<Recorded>, marker: string, over: "any" | "tls" = "any") =>
  records
    .filter((record) => new URLSearchParams(record.query).get("probe") === marker)
    .map((record) => {
      const query = new URLSearchParams(record.query)
      query.delete("probe")
      // The cookie test sets a cookie named after every query parameter, the probe included.
      const headers = JSON.stringify(steadyEcho({ headers: record.headers }, over).headers).replaceAll(
        marker,
        "<probe>"
      )
      return `${record.method} ${record.path}?${query} ${headers}`
    })

interface World {
  readonly outcomes: ReadonlyMap<string, Outcome>
  readonly plain: ReadonlyArray<Recorded>
  readonly secure: ReadonlyArray<Recorded>
  readonly trapped: ReadonlyArray<string>
  readonly stderr: string
}

const dir = mkdtempSync(join(tmpdir(), "httpkit-pollution-"))
const socketPath = join(dir, "planted.sock")
const trapped: Array<string> = []
const trap = (kind: string) =>
  Net.createServer((socket) => {
    trapped.push(kind)
    socket.destroy()
  })
const unixTrap = trap("the planted UNIX socket")
const tcpTrap = trap("the planted port")
let scope: Scope.Closeable | undefined
let world: Promise<World>

/** Runs the child over `keys`; after a crash, again over the keys it did not reach. */
const runChild = async (
  input: { readonly url: string; readonly tlsUrl: string; readonly trapPort: number; readonly cert: string },
  keys: ReadonlyArray<string>
): Promise<{ readonly outcomes: Array<Outcome>; readonly stderr: string }> => {
  const outcomes: Array<Outcome> = []
  let stderr = ""
  let remaining = keys
  while (remaining.length > 0) {
    const { stderr: errors, stdout } = await NodeChild.run(
      [join(import.meta.dirname, "pollution-child.ts"), JSON.stringify({ ...input, socketPath, keys: remaining })],
      { timeoutMillis: childTimeout }
    )
    stderr += errors
    const done = stdout.split("\n").filter((line) => line.startsWith("@@pollution ")).map((line) =>
      JSON.parse(line.slice("@@pollution ".length)) as Outcome
    )
    outcomes.push(...done)
    if (done.length >= remaining.length) break
    const crashedOn = remaining[done.length]!
    outcomes.push({ key: crashedOn, marker: `k_${crashedOn}`, planted: {}, crashed: errors.slice(-2_000) })
    remaining = remaining.slice(done.length + 1)
  }
  return { outcomes, stderr }
}

beforeAll(async () => {
  await new Promise<void>((resolve) => unixTrap.listen(socketPath, resolve))
  await new Promise<void>((resolve) => tcpTrap.listen(0, "127.0.0.1", resolve))
  const trapPort = (tcpTrap.address() as Net.AddressInfo).port
  scope = Effect.runSync(Scope.make())
  const { cert, plain, secure } = await plainAndTlsServers(scope)
  world = runChild({ url: plain.url, tlsUrl: secure.url, trapPort, cert: cert.cert }, ["", ...names]).then(
    async ({ outcomes, stderr }) => ({
      outcomes: new Map(outcomes.map((outcome) => [outcome.key, outcome])),
      plain: (await Effect.runPromise(plain.requests)) as ReadonlyArray<Recorded>,
      secure: (await Effect.runPromise(secure.requests)) as ReadonlyArray<Recorded>,
      trapped,
      stderr
    })
  )
}, 60_000)

afterAll(async () => {
  if (scope !== undefined) await Effect.runPromise(Scope.close(scope, Exit.void))
  unixTrap.close()
  tcpTrap.close()
  rmSync(dir, { recursive: true, force: true })
})

describe("a polluted Object.prototype changes no request (RELIABILITY 10)", () => {
  it("the unpolluted baseline: every call as expected, so that the comparisons below mean something", {
    timeout: childTimeout
  }, async () => {
    const { outcomes, plain, stderr } = await world
    const baseline = outcomes.get("")
    assert.isDefined(baseline, stderr.slice(-2_000))
    const shown = view(baseline!)
    assert.isUndefined(shown.failedToRun)
    assert.deepStrictEqual(shown.notFound, { ok: false, error: "NotFoundError" })
    assert.deepStrictEqual(shown.unavailable, { ok: false, error: "ServiceUnavailableError" })
    assert.deepStrictEqual(shown.untrusted, { ok: false, error: "ConnectionError" })
    assert.deepStrictEqual(shown.unauthorized, { ok: false, error: "AuthenticationError" })
    assert.deepStrictEqual(shown.cookies, { cookies: { call: "cookies-set", session: "one" } })
    const get = shown.getEcho as { echo: { method: string; path: string; headers: Record<string, string> } }
    assert.strictEqual(get.echo.method, "GET")
    assert.strictEqual(get.echo.path, "/echo")
    assert.strictEqual(get.echo.headers["user-agent"], "httpkit/0.1")
    assert.deepStrictEqual(shown.overTls !== undefined && (shown.overTls as { status: number }).status, 200)
    // Three attempts at the 503 (retry.maxAttempts 3), one at everything else.
    assert.strictEqual(seen(plain, "k_").filter((line) => line.startsWith("GET /status/503")).length, 3)
  })

  for (const name of names) {
    it(`Object.prototype.${name}: the servers see the same requests, the caller the same answers`, {
      timeout: childTimeout
    }, async () => {
      const { outcomes, plain, secure, stderr } = await world
      const baseline = outcomes.get("")!
      const outcome = outcomes.get(name)
      assert.isDefined(outcome, `the child never reported ${name}: ${stderr.slice(-2_000)}`)
      assert.deepStrictEqual(view(outcome!), view(baseline))
      assert.deepStrictEqual(seen(plain, outcome!.marker), seen(plain, baseline.marker))
      assert.deepStrictEqual(seen(secure, outcome!.marker, "tls"), seen(secure, baseline.marker, "tls"))
    })
  }

  it("nothing connected to the planted UNIX socket or the planted port", { timeout: childTimeout }, async () => {
    const { trapped } = await world
    assert.deepStrictEqual(trapped, [])
  })
})
