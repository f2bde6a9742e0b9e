/**
 * The polluted half of `pollution-undici.test.ts`, run as a child process
 * (polluting `Object.prototype` inside the vitest worker would reach vitest
 * and the test server).
 *
 * It imports the client, then sets every name given on `Object.prototype` at
 * once, before any client is built or any request made (the first request of
 * the process is the one that finds undici's lazily loaded pieces, its
 * parser among them), and makes the calls a user would make: a GET, a POST
 * with a text body, a POST with a stream body and a streamed GET, on plain
 * HTTP, then the same GET and stream POST over TLS when a TLS server is given.
 * It deletes the names again in a `finally` and prints one line:
 * `@@result {"calls": {...}}`, each call `{ ok, value }` or `{ ok: false, error }`.
 *
 * Usage: `node pollution-undici-child.ts <json>` with `{ url, tlsUrl?, cert?, socketPath, run, names }`.
 */
import { Cause, Duration, Effect, Stream } from "effect"
import { HttpBody } from "effect/http"
import * as ResilientClient from "../src/ResilientClient.ts"

interface Input {
  readonly url: string
  readonly tlsUrl?: string
  readonly cert?: string
  /** A UNIX socket the parent listens on, recording every connection: where a polluted `path` would lead. */
  readonly socketPath: string
  /** Marks this run's requests in the server's log (`run=` in the query). */
  readonly run: string
  readonly names: ReadonlyArray<string>
}

const input = JSON.parse(process.argv[2]!) as Input
// Node makes its standard streams on first use: make it now, before anything is polluted.
const stdout = process.stdout

/** What each name is set to: the brief's `{}` for most, a value that would hurt for the rest. */
const hostile = (name: string): unknown => {
  switch (name) {
    case "path":
    case "socketPath":
      return input.socketPath
    case "origin":
      return "http://127.0.0.3:9"
    case "servername":
      return "polluted.invalid"
    case "headers":
      return { "x-polluted": "headers" }
    case "body":
      return "polluted body"
    case "method":
      return "DELETE"
    case "query":
      return { polluted: "query" }
    case "upgrade":
      return "websocket"
    case "reset":
    case "blocking":
    case "throwOnError":
    case "expectContinue":
      return true
    case "maxRedirections":
    case "bodyTimeout":
    case "headersTimeout":
    case "highWaterMark":
      return 1
    default:
      return {}
  }
}

const describeFailure = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause) as { readonly _tag?: unknown; readonly message?: unknown }
  const tag = typeof error?._tag === "string" ? error._tag : "defect"
  return `${tag}: ${String(error?.message ?? error)}`.slice(0, 500)
}

const outcome = <A>(effect: Effect.Effect<A, unknown>) =>
  Effect.matchCause(Effect.timeout(effect, Duration.seconds(15)), {
    onSuccess: (value) => ({ ok: true, value: value as unknown }),
    onFailure: (cause) => ({ ok: false, error: describeFailure(cause) })
  })

const bytes = (text: string) => Stream.make(new TextEncoder().encode(text))

/** What `/echo` answered that can be compared: the method, the body, the probe. */
const echoed = (response: ResilientClient.ClientResponse) =>
  Effect.map(response.json, (echo) => {
    const { body, method, query } = echo as { body: string; method: string; query: Record<string, string> }
    return { status: response.status, method, body, call: query["call"] }
  })

const calls = Effect.scoped(Effect.gen(function*() {
  const client = yield* ResilientClient.make({ retry: { maxAttempts: 1 } })
  const echo = (call: string) => `${input.url}/echo?run=${input.run}&call=${call}`
  const results: Record<string, unknown> = {
    get: yield* outcome(Effect.flatMap(client.get(echo("get")), echoed)),
    postText: yield* outcome(Effect.flatMap(client.post(echo("post-text"), { body: HttpBody.text("hello") }), echoed)),
    postStream: yield* outcome(
      Effect.flatMap(client.post(echo("post-stream"), { body: HttpBody.stream(bytes("streamed")) }), echoed)
    ),
    streamed: yield* outcome(
      client.stream(echo("streamed")).pipe(
        Stream.decodeText,
        Stream.mkString,
        Effect.map((text) => (JSON.parse(text) as { query: Record<string, string> }).query["call"])
      )
    )
  }
  if (input.tlsUrl !== undefined && input.cert !== undefined) {
    const secure = yield* ResilientClient.make({ retry: { maxAttempts: 1 }, tls: { ca: input.cert } })
    const overTls = (call: string) => `${input.tlsUrl}/echo?run=${input.run}&call=${call}`
    results["tlsGet"] = yield* outcome(Effect.flatMap(secure.get(overTls("tls-get")), echoed))
    results["tlsPostStream"] = yield* outcome(
      Effect.flatMap(secure.post(overTls("tls-post-stream"), { body: HttpBody.stream(bytes("over tls")) }), echoed)
    )
  }
  return results
}))

const proto = Object.prototype as Record<string, unknown>
let result: unknown
for (const name of input.names) proto[name] = hostile(name)
try {
  result = { calls: await Effect.runPromise(calls) }
} catch (error) {
  result = { threw: String(error) }
} finally {
  for (const name of input.names) delete proto[name]
}
stdout.write(`@@result ${JSON.stringify(result)}\n`)
