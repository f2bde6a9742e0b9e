/**
 * RELIABILITY 10 for the fault-injection server: its own options are read by
 * own keys, what it hands to Node and Effect cannot inherit, and what a
 * request carries is parsed into null-prototype objects or Maps, so a
 * polluted `Object.prototype` changes neither where it listens nor what it
 * answers.
 *
 * A child process (`pollution-server-child.ts`) sets `Object.prototype[name]`
 * to a hostile value, starts a plain server and a TLS one while polluted, and
 * keeps serving while polluted; this process, clean, sends the same requests
 * every time (echo, the OpenAI and Anthropic mocks, statuses, `/msg`, bearer
 * auth, cookies, a file, the raw listener, TLS) and compares what it gets, and
 * what the server recorded, with the unpolluted baseline.
 *
 * The names: the server's options and those of the TLS server, every option
 * Node's HTTP, HTTP/2, TLS and `net` servers and `listen` read, what Effect's
 * Node server and response constructors read, and the request fields,
 * headers and query parameters the routes read.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import * as Http from "node:http"
import * as Https from "node:https"
import * as Net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { afterAll, beforeAll } from "vitest"
import * as TlsTest from "../src/TlsTest.ts"

const names = [
  // TestServer.Options and the TLS certificate.
  "host",
  "port",
  "tls",
  "key",
  "cert",
  "keepAliveTimeout",
  // `listen`, Node's HTTP, TLS and HTTP/2 servers, `net.Server`.
  "path",
  "socketPath",
  "exclusive",
  "backlog",
  "ipv6Only",
  "reusePort",
  "readableAll",
  "writableAll",
  "IncomingMessage",
  "ServerResponse",
  "http1Options",
  "insecureHTTPParser",
  "maxHeaderSize",
  "maxHeadersCount",
  "requireHostHeader",
  "joinDuplicateHeaders",
  "requestTimeout",
  "headersTimeout",
  "connectionsCheckingInterval",
  "uniqueHeaders",
  "noDelay",
  "keepAlive",
  "highWaterMark",
  "pauseOnConnect",
  "allowHalfOpen",
  "rejectNonStandardBodyWrites",
  "shouldUpgradeCallback",
  "allowHTTP1",
  "settings",
  "SNICallback",
  "ALPNCallback",
  "requestCert",
  "rejectUnauthorized",
  "ca",
  // Effect's Node server, its requests and its responses.
  "disablePreemptiveShutdown",
  "gracefulShutdownTimeout",
  "websocket",
  "url",
  "remoteAddress",
  "peerAddress",
  "protocol",
  "status",
  "statusText",
  "contentType",
  "contentLength",
  "cookies",
  // What the routes read from a request.
  "headers",
  "query",
  "method",
  "body",
  "stream",
  "stream_options",
  "max_tokens",
  "n",
  "temperature",
  "system",
  "model",
  "messages",
  "authorization",
  "cookie",
  "range",
  "if-range",
  "idempotency-key",
  "x-request-id",
  "x-mock-rpm",
  "content-length",
  "delay",
  "retry_after",
  "rpm",
  "limit",
  "window",
  "dialect",
  "redirect",
  "absolute",
  "to",
  "name",
  "value",
  "domain",
  "secure",
  "httponly",
  "samesite",
  "partitioned",
  "size",
  "seed",
  "filename",
  "gzip",
  "chunked"
]

/**
 * Not tested, because Node reads them, for every connection it accepts, from
 * an object literal of its own making (`new Socket({ handle, ... })` in
 * `net`'s `onconnection`, and `http.Server`'s options for `net.Server`), which
 * no server can give own keys: `keepAliveInitialDelay` and `blockList` (a
 * wrong type throws), `signal` (destroys every socket), and `writable` on
 * `Object.prototype` breaks every property descriptor in JavaScript itself.
 */
const outsideOurReach: ReadonlyArray<string> = ["keepAliveInitialDelay", "blockList", "signal", "writable"]

/** How long the whole run may take. */
const runTimeout = 240_000

type Answer =
  | { readonly status: number; readonly headers: Record<string, unknown>; readonly body: unknown }
  | { readonly error: string }

interface Started {
  readonly started: boolean
  readonly error?: string
  readonly url?: string
  readonly rawUrl?: string
  readonly tlsUrl?: string
  readonly crashed?: boolean
}

/** What the child prints for a command. */
interface Reply extends Started {
  readonly stopped?: boolean
  readonly planted?: Record<string, number>
  readonly stderr?: string
}

interface Outcome {
  readonly started: Started
  readonly answers?: Record<string, unknown>
  readonly planted?: Record<string, number>
  readonly crashed?: string
}

const dir = mkdtempSync(join(tmpdir(), "httpkit-server-pollution-"))
const socketPath = join(dir, "planted.sock")
const portHolder = Net.createServer((socket) => socket.destroy())
let children: Array<ChildProcessWithoutNullStreams> = []
let world: Promise<ReadonlyMap<string, Outcome>>

/** Response headers and body fields that change on every call: ids, dates, lengths that include a port. */
const volatile = /^(date|content-length|x-request-id|request-id|openai-processing-ms|.*ratelimit.*reset.*|etag)$/

const steady = (answer: Answer): unknown => {
  if ("error" in answer) return answer
  const headers: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(answer.headers)) if (!volatile.test(name)) headers[name] = value
  let body = answer.body
  try {
    const parsed = JSON.parse(String(body)) as Record<string, unknown>
    for (const field of ["id", "created", "message_id", "received_at"]) delete parsed[field]
    if (typeof parsed.headers === "object" && parsed.headers !== null) {
      delete (parsed.headers as Record<string, unknown>).host
    }
    body = parsed
  } catch {
    // Not JSON: compared as text.
  }
  return { status: answer.status, headers, body }
}

const send = (
  ca: string,
  url: string,
  init: { readonly method?: string; readonly headers?: Record<string, string>; readonly body?: string } = {}
) =>
  new Promise<Answer>((resolve) => {
    const target = new URL(url)
    const request = (target.protocol === "https:" ? Https : Http).request(target, {
      method: init.method ?? "GET",
      headers: { connection: "close", ...init.headers },
      ca,
      agent: false,
      timeout: 5_000
    }, (response) => {
      let body = ""
      response.setEncoding("utf8")
      response.on("data", (chunk: string) => (body += chunk))
      response.on("end", () => resolve({ status: response.statusCode!, headers: { ...response.headers }, body }))
      response.on("error", (error) => resolve({ error: String(error) }))
    })
    request.on("timeout", () => request.destroy(new Error("no answer within 5 s")))
    request.on("error", (error) => resolve({ error: String(error) }))
    request.end(init.body)
  })

/** The same requests every time, answers and the server's own log made comparable. */
const exchange = async (ca: string, started: Started) => {
  const { url, rawUrl, tlsUrl } = started as Required<Started>
  const chat = JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi there" }] })
  const message = JSON.stringify({ model: "m", max_tokens: 50, messages: [{ role: "user", content: "hi there" }] })
  const json = { "content-type": "application/json" }
  const answers: Record<string, unknown> = {
    listensOn: new URL(url).hostname,
    echo: steady(await send(ca, `${url}/echo?x=1`, { headers: { "x-test": "1" } })),
    chat: steady(
      await send(ca, `${url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: "Bearer sk-test-1", ...json },
        body: chat
      })
    ),
    messages: steady(
      await send(ca, `${url}/v1/messages`, {
        method: "POST",
        headers: { "x-api-key": "sk-ant-test-1", ...json },
        body: message
      })
    ),
    notFound: steady(await send(ca, `${url}/status/404`)),
    msg: ((await send(ca, `${url}/msg`)) as { status?: number }).status,
    bearer: steady(await send(ca, `${url}/auth/bearer`, { headers: { authorization: "Bearer token-1" } })),
    cookies: steady(await send(ca, `${url}/cookies`, { headers: { cookie: "a=1" } })),
    file: steady(await send(ca, `${url}/files/a.bin?size=10`)),
    raw: steady(await send(ca, `${rawUrl}/health`)),
    overTls: steady(await send(ca, `${tlsUrl}/echo?x=1`))
  }
  const log = await send(ca, `${url}/__requests`)
  answers.recorded = steady(log)
  const entries = (answers.recorded as { body?: unknown }).body
  if (Array.isArray(entries)) {
    answers.recorded = entries.map((entry: Record<string, unknown>) => {
      const headers = { ...(entry.headers as Record<string, string>) }
      delete headers.host
      return { method: entry.method, path: entry.path, query: entry.query, headers }
    })
  }
  return answers
}

/** A child that serves polluted on command; after a crash, a fresh one. */
const makeChild = (input: object) => {
  const child = spawn(
    process.execPath,
    [join(import.meta.dirname, "pollution-server-child.ts"), JSON.stringify(input)],
    {
      stdio: ["pipe", "pipe", "pipe"]
    }
  )
  children.push(child)
  let stderr = ""
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
  const waiting: Array<(reply: Reply) => void> = []
  createInterface({ input: child.stdout }).on("line", (line) => {
    if (line.startsWith("@@pollution ")) waiting.shift()?.(JSON.parse(line.slice("@@pollution ".length)))
  })
  child.on("close", () => {
    for (const resolve of waiting.splice(0)) resolve({ started: false, crashed: true, stderr: stderr.slice(-1_500) })
  })
  return (command: object) =>
    new Promise<Reply>((resolve) => {
      waiting.push(resolve)
      child.stdin.write(`${JSON.stringify(command)}\n`)
    })
}

beforeAll(async () => {
  await new Promise<void>((resolve) => portHolder.listen(0, "127.0.0.1", resolve))
  const certificate = await Effect.runPromise(TlsTest.selfSigned())
  const input = {
    socketPath,
    trapPort: (portHolder.address() as Net.AddressInfo).port,
    key: certificate.key,
    cert: certificate.cert
  }
  world = (async () => {
    const outcomes = new Map<string, Outcome>()
    let ask = makeChild(input)
    for (const name of ["", ...names.filter((name) => !outsideOurReach.includes(name))]) {
      const started = await ask({ op: "start", key: name })
      const answers = started.started ? await exchange(certificate.cert, started) : undefined
      const stopped = started.crashed === true ? started : await ask({ op: "stop" })
      const crashed = stopped.crashed === true ? String(stopped.stderr) : undefined
      outcomes.set(name, {
        started: { started: started.started, ...(started.error === undefined ? {} : { error: started.error }) },
        ...(answers === undefined ? {} : { answers }),
        ...(crashed === undefined ? { planted: stopped.planted ?? {} } : { crashed })
      })
      if (crashed !== undefined) ask = makeChild(input)
    }
    return outcomes
  })()
}, 60_000)

afterAll(() => {
  for (const child of children) child.kill("SIGKILL")
  children = []
  portHolder.close()
  rmSync(dir, { recursive: true, force: true })
})

describe("a polluted Object.prototype changes nothing the test server does (RELIABILITY 10)", () => {
  it("the unpolluted baseline: listens on 127.0.0.1 and answers every request as documented", {
    timeout: runTimeout
  }, async () => {
    const baseline = (await world).get("")!
    assert.isTrue(baseline.started.started, baseline.started.error)
    const answers = baseline.answers!
    assert.strictEqual(answers.listensOn, "127.0.0.1")
    assert.strictEqual((answers.echo as { status: number }).status, 200)
    assert.strictEqual((answers.chat as { status: number }).status, 200)
    assert.match(JSON.stringify(answers.chat), /Echo: hi there/)
    assert.strictEqual(
      (answers.messages as { headers: Record<string, string> }).headers["content-type"],
      "application/json"
    )
    assert.strictEqual((answers.bearer as { status: number }).status, 200)
    assert.deepStrictEqual((answers.cookies as { body: unknown }).body, { cookies: { a: "1" } })
    assert.strictEqual((answers.raw as { status: number }).status, 200)
    assert.strictEqual((answers.overTls as { status: number }).status, 200)
    assert.deepStrictEqual(baseline.planted, {})
  })

  for (const name of names.filter((name) => !outsideOurReach.includes(name))) {
    it(`Object.prototype.${name}: the same address, the same answers, the same log`, {
      timeout: runTimeout
    }, async () => {
      const outcomes = await world
      const outcome = outcomes.get(name)!
      assert.isUndefined(outcome.crashed, outcome.crashed)
      assert.deepStrictEqual(outcome.started, outcomes.get("")!.started)
      assert.deepStrictEqual(outcome.answers, outcomes.get("")!.answers)
      assert.deepStrictEqual(outcome.planted, {})
    })
  }
})
