/**
 * The polluted half of `pollution.test.ts`, run as a child process: the
 * fault-injection server started, and serving, with `Object.prototype`
 * polluted. The parent sends the requests, with a clean client.
 *
 * Commands arrive on stdin, one JSON object per line:
 * - `{ "op": "start", "key": K }` sets `Object.prototype[K]` to a hostile
 *   value (nothing for `""`), starts a plain server and a TLS one, and prints
 *   `@@pollution {"started": ..., "url", "rawUrl", "tlsUrl"}` (or the error);
 * - `{ "op": "stop" }` stops both servers, deletes the key, and prints
 *   `@@pollution {"stopped": ..., "planted": {...}}`, how often a planted
 *   function or class ran.
 *
 * Usage: `node pollution-server-child.ts <json>` with `{ socketPath, trapPort,
 * key, cert }` (a path to plant, a port in use, a certificate and its key).
 */
import { Effect, Exit, Scope } from "effect"
import * as Http from "node:http"
import { createInterface } from "node:readline"
import * as TestServer from "../src/TestServer.ts"

interface Input {
  readonly socketPath: string
  readonly trapPort: number
  readonly key: string
  readonly cert: string
}

const input = JSON.parse(process.argv[2]!) as Input
// Node makes its stdio streams on first use: make them now, before any key is polluted.
const stdout = process.stdout

let planted: Record<string, number> = {}
const count = (name: string) => {
  planted[name] = (planted[name] ?? 0) + 1
}

/** A hostile value for `key`: what would change the server most if Node, Effect or the server picked it up. */
const hostile = (key: string): unknown => {
  switch (key) {
    case "path":
    case "socketPath":
      return input.socketPath
    case "host":
      return "127.0.0.3"
    case "port":
      return input.trapPort
    case "tls":
      return { key: input.key, cert: input.cert }
    case "key":
    case "cert":
      return key === "key" ? input.key : input.cert
    case "IncomingMessage":
      return class extends Http.IncomingMessage {
        constructor(socket: ConstructorParameters<typeof Http.IncomingMessage>[0]) {
          super(socket)
          count("IncomingMessage")
        }
      }
    case "ServerResponse":
      return class extends Http.ServerResponse {
        constructor(request: Http.IncomingMessage) {
          super(request)
          count("ServerResponse")
        }
      }
    case "shouldUpgradeCallback":
    case "SNICallback":
    case "ALPNCallback":
      return () => {
        count(key)
        return true
      }
    case "keepAliveTimeout":
    case "maxHeaderSize":
    case "requestTimeout":
    case "headersTimeout":
    case "connectionsCheckingInterval":
    case "highWaterMark":
    case "backlog":
    case "gracefulShutdownTimeout":
    case "maxHeadersCount":
    case "max_tokens":
    case "n":
    case "delay":
      return 1
    case "uniqueHeaders":
      return ["x-test"]
    case "settings":
      return { maxConcurrentStreams: 0, maxHeaderListSize: 1 }
    case "allowHTTP1":
    case "requireHostHeader":
    case "keepAlive":
    case "noDelay":
    case "rejectNonStandardBodyWrites":
      return false
    case "websocket":
      return { noServer: false, port: input.trapPort }
    case "headers":
      return { "x-polluted": "headers" }
    case "query":
      return { polluted: "query" }
    case "stream":
    case "stream_options":
      return key === "stream" ? true : { include_usage: true }
    case "system":
      return "polluted system prompt"
    case "temperature":
      return 9
    case "authorization":
      return "Bearer token-1"
    case "cookie":
      return "polluted=1"
    case "range":
      return "bytes=0-0"
    case "idempotency-key":
    case "x-request-id":
      return "polluted-key"
    case "x-mock-rpm":
      return "1"
    case "retry_after":
    case "status":
      return key === "status" ? 503 : "7"
    default:
      return true
  }
}

let scope: Scope.Closeable | undefined
let polluted: string | undefined

const reply = (message: object) => stdout.write(`@@pollution ${JSON.stringify(message)}\n`)

const start = async (key: string) => {
  planted = {}
  const proto = Object.prototype as Record<string, unknown>
  if (key !== "") {
    proto[key] = hostile(key)
    polluted = key
  }
  try {
    scope = Effect.runSync(Scope.make())
    const servers = await Effect.runPromise(
      Effect.all({
        plain: TestServer.make(),
        secure: TestServer.make({ tls: { key: input.key, cert: input.cert } })
      }).pipe(Scope.provide(scope))
    )
    reply({ started: true, url: servers.plain.url, rawUrl: servers.plain.rawUrl, tlsUrl: servers.secure.url })
  } catch (error) {
    reply({ started: false, error: String(error) })
  }
}

const stop = async () => {
  try {
    if (scope !== undefined) await Effect.runPromise(Scope.close(scope, Exit.void))
  } finally {
    scope = undefined
    if (polluted !== undefined) delete (Object.prototype as Record<string, unknown>)[polluted]
    polluted = undefined
    reply({ stopped: true, planted })
  }
}

const lines = createInterface({ input: process.stdin })
for await (const line of lines) {
  const command = JSON.parse(line) as { readonly op: "start" | "stop"; readonly key?: string }
  if (command.op === "start") await start(command.key ?? "")
  else await stop()
}
