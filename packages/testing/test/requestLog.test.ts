import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Net from "node:net"
import { format, redactTarget } from "../src/internal/requestLog.ts"
import * as TestServer from "../src/TestServer.ts"

const call = (url: string, init?: RequestInit) =>
  Effect.promise(() => fetch(url, init).then((response) => response.arrayBuffer().then(() => response.status)))

/** Waits until `lines` holds `count` lines (the line is written when Node closes the response), at most 10 s. */
const linesFor = (lines: ReadonlyArray<string>, count: number) =>
  Effect.promise(async () => {
    const deadline = Date.now() + 10_000
    while (lines.length < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
    return lines.slice()
  })

/** Sends one request head to the raw-socket listener and resolves when the connection is gone, whatever came back. */
const rawRequest = (rawUrl: string, target: string) =>
  Effect.promise(() =>
    new Promise<void>((resolve) => {
      const { hostname, port } = new URL(rawUrl)
      const socket = Net.connect({ host: hostname, port: Number(port) }, () => {
        socket.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sekrit\r\n\r\n`)
      })
      socket.on("data", () => {})
      socket.on("error", () => resolve())
      socket.on("close", () => resolve())
    })
  )

/** A file beside this test, as text. */

/** Secret parameter names the server's own short list once missed. */
const secretNames = [
  "session_id",
  "sid",
  "secretKey",
  "sessionToken",
  "clientSecret",
  "user[password]",
  "auth[token]",
  "PHPSESSID",
  "api.key",
  "my.password",
  "key"
]

describe("request log lines", () => {
  it("keep the target verbatim, with the values of secret-named parameters and user-info in values REDACTED", () => {
    assert.strictEqual(redactTarget("/status/503?x=1"), "/status/503?x=1")
    assert.strictEqual(redactTarget("/health"), "/health")
    assert.strictEqual(
      redactTarget("/auth/rotate?token=t0p&access_token=a&api_key=k&client_secret=s&password=p&sig=x&size=10"),
      "/auth/rotate?token=REDACTED&access_token=REDACTED&api_key=REDACTED&client_secret=REDACTED&password=REDACTED&sig=REDACTED&size=10"
    )
    assert.strictEqual(
      redactTarget("/redirect-to?url=https://user:pass@example.test/x&status=307"),
      "/redirect-to?url=https%3A%2F%2FREDACTED%40example.test%2Fx&status=307"
    )
    assert.strictEqual(
      redactTarget("/redirect-to?url=https%3A%2F%2Fuser%3Apass%40example.test%2F"),
      "/redirect-to?url=https%3A%2F%2FREDACTED%40example.test%2F"
    )
    assert.strictEqual(
      redactTarget("/x?authorization=Bearer%20a&jwt=e.y.j&bearer=b&pass=p&user_pass=q&id_token=i&passage=1&bypass=2"),
      "/x?authorization=REDACTED&jwt=REDACTED&bearer=REDACTED&pass=REDACTED&user_pass=REDACTED&id_token=REDACTED&passage=1&bypass=2"
    )
    // An encoded secret name is still a secret name; names merely containing one are not.
    assert.strictEqual(redactTarget("/x?api%5Fkey=k&keyboard=1&monkey=2"), "/x?api%5Fkey=REDACTED&keyboard=1&monkey=2")
    // Redact's rules: a bare `key` is a secret too, so `/ratelimit?key=` is logged REDACTED.
    assert.strictEqual(redactTarget("/ratelimit?key=abc&limit=2"), "/ratelimit?key=REDACTED&limit=2")
    assert.strictEqual(redactTarget("/app;jsessionid=abc/page?x=1"), "/app;jsessionid=REDACTED/page?x=1")
    assert.strictEqual(redactTarget("/echo/../health?token=1"), "/echo/../health?token=REDACTED")
  })

  it("redact every name httpkit's Redact does", () => {
    const names = secretNames.map((name, i) => `${name}=v${i}alue`).join("&")
    assert.strictEqual(
      redactTarget(`/x?${names}&size=3`),
      `/x?${secretNames.map((name) => `${name}=REDACTED`).join("&")}&size=3`
    )
  })

  it("read METHOD target -> status time, marking answers cut short and connections closed before any", () => {
    assert.strictEqual(
      format({ method: "GET", target: "/status/503?x=1", status: 503, millis: 12.4, completed: true }),
      "GET /status/503?x=1 -> 503 12ms"
    )
    assert.strictEqual(
      format({ method: "GET", target: "/files/a?drop_after=10", status: 200, millis: 5, completed: false }),
      "GET /files/a?drop_after=10 -> 200 5ms (not completed)"
    )
    assert.strictEqual(
      format({ method: "GET", target: "/delay/3000", status: undefined, millis: 1003, completed: false }),
      "GET /delay/3000 -> no answer 1003ms"
    )
  })
})

describe("TestServer's log option", () => {
  it.live("one line per request over real sockets: routes, 404s, a dropped body, and no header or secret", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const server = yield* TestServer.make({ log: (line) => lines.push(line) })
      const secret = "sekrit-bearer-value"
      assert.strictEqual(yield* call(server.urlFor("/status/503?x=1")), 503)
      assert.strictEqual(
        yield* call(server.urlFor(`/auth/bearer?access_token=${secret}`), {
          headers: { authorization: `Bearer ${secret}`, cookie: `session=${secret}` }
        }),
        401
      )
      assert.strictEqual(yield* call(server.urlFor("/nope"), { method: "POST" }), 404)
      const query = secretNames.map((name, i) => `${encodeURIComponent(name)}=${secret}${i}`).join("&")
      assert.strictEqual(yield* call(server.urlFor(`/status/204?${query}`)), 204)
      const dropped = yield* Effect.promise(() =>
        fetch(server.urlFor("/files/log.bin?size=100000&drop_after=10"))
          .then((response) => response.arrayBuffer())
          .then(() => "read", () => "dropped")
      )
      assert.strictEqual(dropped, "dropped")

      const logged = yield* linesFor(lines, 5)
      assert.lengthOf(logged, 5)
      assert.match(logged[0]!, /^GET \/status\/503\?x=1 -> 503 \d+ms$/)
      assert.match(logged[1]!, /^GET \/auth\/bearer\?access_token=REDACTED -> 401 \d+ms$/)
      assert.match(logged[2]!, /^POST \/nope -> 404 \d+ms$/)
      assert.match(logged[3]!, /^GET \/status\/204\?session_id=REDACTED&sid=REDACTED&.*&key=REDACTED -> 204 \d+ms$/)
      assert.match(logged[4]!, /^GET \/files\/log\.bin\?size=100000&drop_after=10 -> 200 \d+ms \(not completed\)$/)
      for (const line of logged) assert.notInclude(line, secret)
    }).pipe(Effect.scoped))

  it.live("the raw-socket listener's requests log raw lines: its status, no answer, bytes, cut short, redacted", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const server = yield* TestServer.make({ log: (line) => lines.push(line) })
      const targets = [
        "/health",
        "/hang?hold=50",
        "/close",
        "/bytes?b64=aGk",
        "/chunked-no-end?chunks=1&hold=50",
        "/retry-after?value=1&api_key=sekrit",
        "/nope"
      ]
      for (const target of targets) yield* rawRequest(server.rawUrl, target)
      const logged = yield* linesFor(lines, targets.length)
      const expected = [
        /^raw GET \/health -> 200 \d+ms$/,
        /^raw GET \/hang\?hold=50 -> no answer \d+ms$/,
        /^raw GET \/close -> no answer \d+ms$/,
        /^raw GET \/bytes\?b64=aGk -> bytes \d+ms$/,
        /^raw GET \/chunked-no-end\?chunks=1&hold=50 -> 200 \d+ms \(not completed\)$/,
        /^raw GET \/retry-after\?value=1&api_key=REDACTED -> 503 \d+ms$/,
        /^raw GET \/nope -> 404 \d+ms$/
      ]
      assert.lengthOf(logged, expected.length, logged.join("\n"))
      logged.forEach((line, i) => assert.match(line, expected[i]!))
      for (const line of logged) assert.notInclude(line, "sekrit")
    }).pipe(Effect.scoped))

  it.live("a request whose client leaves before the answer logs no answer, with the time it was open", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const server = yield* TestServer.make({ log: (line) => lines.push(line) })
      const outcome = yield* Effect.promise(() =>
        fetch(server.urlFor("/delay/5000"), { signal: AbortSignal.timeout(300) }).then(() => "answered", () => "left")
      )
      assert.strictEqual(outcome, "left")
      const [line] = yield* linesFor(lines, 1)
      const match = /^GET \/delay\/5000 -> no answer (\d+)ms$/.exec(line ?? "")
      assert.isNotNull(match, line)
      assert.isAtLeast(Number(match![1]), 250)
      assert.isBelow(Number(match![1]), 4_000)
    }).pipe(Effect.scoped))
})
