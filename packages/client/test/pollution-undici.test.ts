/**
 * RELIABILITY 10 at the transport, before the first request: with names that
 * undici and Node read from the objects the client hands them polluted on
 * `Object.prototype` (`Object.prototype.signal = {}`, as a prototype-pollution
 * bug elsewhere in an application leaves it), every call still succeeds and
 * the server records the same requests as without.
 *
 * Each group of names is set at once in a child process of its own
 * (`pollution-undici-child.ts`) after the client is imported and before any
 * client is built, so the first request of that process, the one that finds
 * what undici loads on first use, runs polluted. The calls: a GET, a POST
 * with a text body, a POST with a stream body, a streamed GET, and a GET and
 * a stream POST over TLS (HTTP/2, or HTTP/1.1 where a polluted name breaks
 * Node's HTTP/2 client), except for the names Node's TLS reads itself. The
 * servers run here, unpolluted, and record what reached them; a UNIX socket
 * planted as `path` records any connection.
 *
 * `pollution.test.ts` sets each name alone, with a client that has sent
 * requests before; this file sets them together, first.
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

/**
 * The names that broke every request: undici's `Request` read `error` from itself, Node's stream read `signal`
 * and `encoding` from the object literal undici's `request` made each response body with, Node's module loader
 * read `signal` and `encoding` when undici loaded its HTTP/1.1 parser on the first connection, and `path` broke
 * `createRequire` of undici's pieces. Plain HTTP only: Node's `TLSSocket` reads `encoding` from an object
 * literal of its own (`tlsOutsideOurReach`), so the same names less `encoding` run over TLS too.
 */
const firstNames = ["signal", "error", "encoding", "path"]

/**
 * What Node's `TLSSocket` reads from the options object literal it makes its socket with: with one of these
 * polluted no TLS connection can be made, whatever a library does (a `ConnectionError`, not a crash). Plain
 * HTTP only. (A function set as `construct`, `destroy`, `final`, `read` or `write` is likewise called by every
 * `TLSSocket`; Node's own private fields, `_construct` or `_writableState`, by every stream.)
 */
const tlsOutsideOurReach = [
  "encoding",
  "defaultEncoding",
  "objectMode",
  "readableObjectMode",
  "writableObjectMode",
  "typeOfService",
  "blockList"
]

/**
 * Other names undici reads from the options, handlers and objects the client gives it, Node's streams from
 * theirs, and Node's HTTP/2 client from its own (where the client falls back to HTTP/1.1).
 */
const undiciNames = [
  "headers",
  "body",
  "method",
  "query",
  "reset",
  "blocking",
  "upgrade",
  "opaque",
  "throwOnError",
  "maxRedirections",
  "origin",
  "servername",
  "expectContinue",
  "bodyTimeout",
  "headersTimeout",
  "idempotent",
  "responseHeaders",
  "onInfo",
  "highWaterMark",
  "readableHighWaterMark",
  "writableHighWaterMark",
  "endHandler",
  "errorHandler",
  "onRequestStart",
  "onRequestSent",
  "onBodySent",
  "onResponseStarted",
  "onResponseStart",
  "onResponseData",
  "onResponseEnd",
  "onResponseError",
  "onRequestUpgrade",
  "newListener",
  "removeListener",
  "pause",
  "resume",
  "finish",
  "ready",
  "enableConnectProtocol",
  "maxConcurrentStreams",
  "maxHeaderSize",
  "next"
]

/** Each child run: a label for the server's log, the names it pollutes, and whether it calls over TLS too. */
const runs: ReadonlyArray<{ readonly run: string; readonly names: ReadonlyArray<string>; readonly tls: boolean }> = [
  { run: "baseline", names: [], tls: true },
  { run: "first", names: firstNames, tls: false },
  { run: "first-tls", names: firstNames.filter((name) => !tlsOutsideOurReach.includes(name)), tls: true },
  { run: "undici", names: undiciNames, tls: true },
  { run: "tls-outside", names: tlsOutsideOurReach, tls: false }
]

interface Call {
  readonly ok: boolean
  readonly value?: unknown
  readonly error?: string
}

interface Result {
  readonly calls?: Readonly<Record<string, Call>>
  readonly threw?: string
}

interface Recorded {
  readonly listener: string
  readonly method: string
  readonly path: string
  readonly query: string
  readonly headers: Readonly<Record<string, string>>
}

/** Headers that differ from one call to the next whatever happens. */
const volatileHeaders = new Set(["x-request-id", "traceparent", "b3", "host", "connection"])

/** What a server saw of one run: method, path, call and header names and values, in order. */
const seen = (records: ReadonlyArray<Recorded>, run: string) =>
  records
    .filter((record) => new URLSearchParams(record.query).get("run") === run)
    .map((record) => {
      const query = new URLSearchParams(record.query)
      query.delete("run")
      const headers = Object.entries(record.headers).filter(([name]) => !volatileHeaders.has(name)).toSorted()
      return `${record.method} ${record.path}?${query} ${JSON.stringify(headers)}`
    })

const dir = mkdtempSync(join(tmpdir(), "httpkit-pollution-undici-"))
const socketPath = join(dir, "planted.sock")
const trapped: Array<string> = []
const trap = Net.createServer((socket) => {
  trapped.push("the planted UNIX socket")
  socket.destroy()
})
let scope: Scope.Closeable | undefined
let world: Promise<{
  readonly results: ReadonlyMap<string, Result>
  readonly plain: ReadonlyArray<Recorded>
  readonly secure: ReadonlyArray<Recorded>
  readonly output: string
}>

beforeAll(async () => {
  await new Promise<void>((resolve) => trap.listen(socketPath, resolve))
  scope = Effect.runSync(Scope.make())
  const { cert, plain, secure } = await plainAndTlsServers(scope)
  world = (async () => {
    const results = new Map<string, Result>()
    let output = ""
    for (const { names, run, tls } of runs) {
      const input = tls
        ? { url: plain.url, tlsUrl: secure.url, cert: cert.cert, socketPath, run, names }
        : { url: plain.url, socketPath, run, names }
      const child = await NodeChild.run(
        [join(import.meta.dirname, "pollution-undici-child.ts"), JSON.stringify(input)],
        { timeoutMillis: 120_000 }
      )
      output += `--- ${run} (exit ${child.code}):\n${child.output.slice(-4_000)}\n`
      const line = child.stdout.split("\n").find((text) => text.startsWith("@@result "))
      results.set(run, line === undefined ? { threw: "no result line" } : JSON.parse(line.slice(9)) as Result)
    }
    return {
      results,
      plain: (await Effect.runPromise(plain.requests)) as ReadonlyArray<Recorded>,
      secure: (await Effect.runPromise(secure.requests)) as ReadonlyArray<Recorded>,
      output
    }
  })()
}, 60_000)

afterAll(async () => {
  if (scope !== undefined) await Effect.runPromise(Scope.close(scope, Exit.void))
  trap.close()
  rmSync(dir, { recursive: true, force: true })
})

/** Every call's outcome, which must all be successes, as the caller saw them. */
const callsOf = (result: Result | undefined, output: string) => {
  assert.isDefined(result?.calls, `the child did not run its calls: ${result?.threw}\n${output}`)
  for (const [name, call] of Object.entries(result!.calls!)) {
    assert.isTrue(call.ok, `${name} failed: ${call.error}\n${output}`)
  }
  return result!.calls!
}

describe("a polluted Object.prototype before the first request changes no request (RELIABILITY 10)", () => {
  it("the baseline: a GET, a text POST, a stream POST and a streamed GET, plain and over TLS, all as sent", {
    timeout: 400_000
  }, async () => {
    const { output, plain, results, secure } = await world
    const calls = callsOf(results.get("baseline"), output)
    assert.deepStrictEqual(calls["get"]!.value, { status: 200, method: "GET", body: "", call: "get" })
    assert.deepStrictEqual(calls["postText"]!.value, { status: 200, method: "POST", body: "hello", call: "post-text" })
    assert.deepStrictEqual(calls["postStream"]!.value, {
      status: 200,
      method: "POST",
      body: "streamed",
      call: "post-stream"
    })
    assert.strictEqual(calls["streamed"]!.value, "streamed")
    assert.deepStrictEqual(calls["tlsPostStream"]!.value, {
      status: 200,
      method: "POST",
      body: "over tls",
      call: "tls-post-stream"
    })
    assert.lengthOf(seen(plain, "baseline"), 4)
    assert.lengthOf(seen(secure, "baseline"), 2)
  })

  for (const { names, run, tls } of runs.slice(1)) {
    it(
      `Object.prototype.${names.join(", .")} set together: every call${
        tls ? "" : " over plain HTTP"
      } succeeds, the servers see the baseline's requests`,
      { timeout: 400_000 },
      async () => {
        const { output, plain, results, secure } = await world
        const baseline = callsOf(results.get("baseline"), output)
        const calls = callsOf(results.get(run), output)
        const expected = tls
          ? baseline
          : Object.fromEntries(Object.entries(baseline).filter(([name]) => !name.startsWith("tls")))
        assert.deepStrictEqual(calls, expected)
        assert.deepStrictEqual(seen(plain, run), seen(plain, "baseline"))
        assert.deepStrictEqual(seen(secure, run), tls ? seen(secure, "baseline") : [])
      }
    )
  }

  it("nothing connected to the UNIX socket planted as Object.prototype.path", { timeout: 400_000 }, async () => {
    await world
    assert.deepStrictEqual(trapped, [])
  })
})
