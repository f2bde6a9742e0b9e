/**
 * The exporters' transport: an Effect `HttpClient` over `node:http` and
 * `node:https`, with agents of its own that are destroyed when the scope that
 * made them closes, so no socket of the exporter outlives its layer.
 *
 * **Details**
 *
 * - `fetch` (undici's global dispatcher) opens a new connection to the
 *   collector for every request it aborted, after the abort, and keeps it
 *   for 4 s: a layer closed with exports hung left a socket per export behind
 *   and the process alive 4 s longer. Here an interrupted request destroys
 *   its socket and nothing reconnects.
 * - Every option Node reads for a request (the request's, the agent's, the
 *   socket's and TLS's: `@httpkit/core/NodeOptions`) is given as an own
 *   property, `undefined` when Node's default is wanted, so a polluted
 *   `Object.prototype` (`socketPath`, `ca`, `lookup`...) changes nothing
 *   (RELIABILITY 10). The agents open their sockets themselves, as
 *   `@httpkit/client`'s connector does, so that each socket's table of
 *   listeners has no prototype before anyone listens (a polluted `timeout`
 *   or `connect` would otherwise end up among a socket's listeners and crash
 *   the process when emitted).
 *   Certificates are always verified: `rejectUnauthorized` is always `true`
 *   (RELIABILITY 11).
 * - The response body is read in full up to 64 KiB (a collector answers
 *   `{}` or a partial-success note): past that the connection is closed and
 *   the response keeps what came (RELIABILITY 13).
 * - HTTP/1.1 only, and redirects are not followed (export headers hold
 *   credentials; a 3xx fails the export as any status but 2xx). With `NODE_USE_ENV_PROXY=1` (or `--use-env-proxy`) the
 *   agents read `HTTP_PROXY`, `HTTPS_PROXY` and `NO_PROXY` as Node's own
 *   agents and `fetch` do; Node then opens the sockets (through the proxy),
 *   without those listener tables.
 */
import * as NodeOptions from "@httpkit/core/NodeOptions"
import { exactly, pinned } from "@httpkit/core/Own"
import * as Effect from "effect/Effect"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientError from "effect/http/HttpClientError"
import type * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as HttpClientResponse from "effect/http/HttpClientResponse"
import type * as Scope from "effect/Scope"
import * as Http from "node:http"
import * as Https from "node:https"
import * as Net from "node:net"
import * as Tls from "node:tls"

/**
 * An agent's `createConnection`: what Node's does (`net.connect`, then
 * `tls.connect` over it), with the sockets' listener tables pinned before
 * anything listens. `options` is the agent's copy of the request's options:
 * without a prototype, every name Node reads pinned.
 */
const open = (secure: boolean) => (options: Readonly<Record<string, unknown>>): Net.Socket => {
  // Node sets `blockList` only when one is given, then reads it from the socket itself when connecting.
  const tcp = Object.assign(new Net.Socket(options as Net.SocketConstructorOpts), { blockList: undefined })
  NodeOptions.pinEvents(tcp)
  tcp.connect(options as unknown as Net.TcpNetConnectOpts)
  let socket: Net.Socket = tcp
  if (secure) {
    socket = Tls.connect({ ...options, socket: tcp } as Tls.ConnectionOptions)
    NodeOptions.pinEvents(socket)
  }
  const timeout = options["timeout"]
  if (typeof timeout === "number" && timeout > 0) socket.setTimeout(timeout)
  return socket
}

/** The most of a response body that is kept; a collector's answer is a few bytes. */
const maxResponseBytes = 64 * 1024

/** Statuses whose response has no body (`new Response` refuses one). */
const nullBodyStatus = new Set([101, 103, 204, 205, 304])

/** Whether Node's agents should read the proxy variables, as Node decides it for its own global agents. */
const useEnvProxy = (): boolean =>
  process.env["NODE_USE_ENV_PROXY"] === "1" || process.execArgv.includes("--use-env-proxy")

const transportError = (request: HttpClientRequest.HttpClientRequest, cause: unknown, description?: string) =>
  new HttpClientError.HttpClientError({
    reason: new HttpClientError.TransportError(
      description === undefined ? { request, cause } : { request, cause, description }
    )
  })

/** The request body as bytes; `undefined` for a body the exporter never sends (a stream, a form). */
const bytesOf = (request: HttpClientRequest.HttpClientRequest): Uint8Array | undefined => {
  const body = request.body
  switch (body._tag) {
    case "Empty":
      return new Uint8Array(0)
    case "Uint8Array":
      return body.body
    case "Raw":
      if (typeof body.body === "string") return Buffer.from(body.body, "utf8")
      return body.body instanceof Uint8Array ? body.body : undefined
    default:
      return undefined
  }
}

/** The request's headers as Node takes them: a record without a prototype, with the body's length. */
const headersOf = (request: HttpClientRequest.HttpClientRequest, length: number): Http.OutgoingHttpHeaders => {
  const headers: Record<string, string> = Object.create(null)
  for (const [name, value] of Object.entries(request.headers)) headers[name] = value
  if (
    request.body._tag !== "Empty" && request.body.contentType !== undefined && headers["content-type"] === undefined
  ) {
    headers["content-type"] = request.body.contentType
  }
  headers["content-length"] = String(length)
  return headers
}

/** Node's response as a Web `Response` holding `body`. */
const toWeb = (response: Http.IncomingMessage, body: Buffer): Response => {
  const headers = new Headers()
  const raw = response.rawHeaders
  for (let i = 0; i + 1 < raw.length; i += 2) {
    try {
      headers.append(raw[i]!, raw[i + 1]!)
    } catch {
      // A header the Web `Headers` refuses: it is not one the exporter reads.
    }
  }
  const status = response.statusCode ?? 0
  return new Response(nullBodyStatus.has(status) ? null : body, { status, headers })
}

/**
 * What the agents are made with: an object without a prototype (Node copies
 * it and reads only its own keys; every one of them overrides the request's).
 */
const agentOptions = () =>
  exactly({
    keepAlive: true,
    // Idle sockets are closed after 4 s (and never keep the process alive: Node unreferences them).
    timeout: 4_000,
    maxSockets: 8,
    maxFreeSockets: 4,
    scheduling: "lifo" as const,
    proxyEnv: useEnvProxy() ? process.env : undefined
  })

/**
 * A client over `node:http` and `node:https` whose agents are destroyed when
 * the scope closes (with every socket they hold, idle or in use).
 */
export const make: Effect.Effect<HttpClient.HttpClient, never, Scope.Scope> = Effect.gen(function*() {
  const agents = yield* Effect.acquireRelease(
    Effect.sync(() => {
      const http = new Http.Agent(agentOptions())
      const https = new Https.Agent(agentOptions())
      // Through a proxy, Node's own `createConnection` opens the tunnel.
      if (!useEnvProxy()) {
        http.createConnection = open(false) as typeof http.createConnection
        https.createConnection = open(true) as typeof https.createConnection
      }
      return { http, https }
    }),
    ({ http, https }) =>
      Effect.sync(() => {
        http.destroy()
        https.destroy()
      })
  )
  return HttpClient.make((request, url) =>
    Effect.callback<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError>((resume) => {
      const secure = url.protocol === "https:"
      if (!secure && url.protocol !== "http:") {
        resume(Effect.fail(transportError(request, undefined, `unsupported protocol ${url.protocol}`)))
        return
      }
      const body = bytesOf(request)
      if (body === undefined) {
        resume(Effect.fail(transportError(request, undefined, `unsupported request body ${request.body._tag}`)))
        return
      }
      let outgoing: Http.ClientRequest
      try {
        const options = pinned(NodeOptions.httpRequestOptions, {
          protocol: url.protocol,
          // `URL` keeps an IPv6 address in brackets; Node wants it bare.
          hostname: url.hostname.replace(/^\[(.*)\]$/, "$1"),
          port: url.port === "" ? (secure ? 443 : 80) : Number(url.port),
          path: `${url.pathname}${url.search}`,
          method: request.method,
          headers: headersOf(request, body.length),
          agent: secure ? agents.https : agents.http,
          rejectUnauthorized: true
        })
        outgoing = secure ? Https.request(options) : Http.request(options)
      } catch (cause) {
        resume(Effect.fail(transportError(request, cause)))
        return
      }
      let settled = false
      const fail = (cause: unknown) => {
        if (settled) return
        settled = true
        outgoing.destroy()
        resume(Effect.fail(transportError(request, cause)))
      }
      outgoing.on("error", fail)
      outgoing.on("response", (incoming) => {
        const chunks: Array<Buffer> = []
        let size = 0
        const done = () => {
          if (settled) return
          settled = true
          try {
            resume(Effect.succeed(HttpClientResponse.fromWeb(request, toWeb(incoming, Buffer.concat(chunks)))))
          } catch (cause) {
            resume(Effect.fail(transportError(request, cause)))
          }
        }
        incoming.on("data", (chunk: Buffer) => {
          if (size >= maxResponseBytes) return
          const kept = chunk.subarray(0, maxResponseBytes - size)
          chunks.push(kept)
          size += kept.length
          if (size >= maxResponseBytes) {
            // Enough: the status is what counts. The connection goes, with the rest of the body.
            done()
            outgoing.destroy()
          }
        })
        incoming.on("end", done)
        incoming.on("error", fail)
        incoming.on("close", () => {
          if (!incoming.complete) fail(new Error("the connection closed before the response ended"))
        })
      })
      outgoing.end(body)
      return Effect.sync(() => {
        settled = true
        outgoing.destroy()
      })
    })
  )
})
