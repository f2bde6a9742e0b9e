/**
 * The raw-socket mode: a TCP listener that speaks just enough HTTP/1.1 to read
 * a request head, then writes bytes no well-behaved HTTP library would send.
 *
 * One request per connection. The head is read within bounds (`Limits`), the
 * request is recorded with `listener: "raw"`, a body announced by
 * `Content-Length` is drained (bounded) before answering, and then the
 * scenario named by the path writes exactly its bytes. Every answer closes the
 * connection afterwards; nothing is kept alive.
 *
 * Query values are percent-decoded to bytes (`+` is a space, as
 * `URLSearchParams` encodes it) and written verbatim, so `%0D%0A`, `%00` or
 * `%FF` reach the wire as single raw bytes.
 */
import * as Effect from "effect/Effect"
import { ServeError } from "effect/http/HttpServerError"
import { STATUS_CODES } from "node:http"
import * as Net from "node:net"
import { splitTarget } from "./http.ts"
import { exactly, own, pinAbsent, pinned } from "./own.ts"
import * as RequestLog from "./requestLog.ts"
import type { ServerState } from "./state.ts"

/** The address of a started raw listener. */
export interface RawListener {
  readonly url: string
  readonly port: number
  /** Open sockets and pending timers right now; both are 0 once the scope closed. */
  readonly stats: () => { readonly connections: number; readonly timers: number }
}

/** The bounds of the raw listener. */
export interface Limits {
  /** Most bytes of request head, terminator included; a longer head is answered 431 and closed. */
  readonly maxHeadBytes: number
  /** Time from accepting a connection to a complete request (head and drained body); else 408 and close. */
  readonly headTimeoutMillis: number
  /** Most request body bytes drained before answering, and most bytes discarded afterwards. */
  readonly maxBodyBytes: number
  /** How long a connection may stay open after the answer was flushed, waiting for the client to close. */
  readonly lingerMillis: number
}

export const defaultLimits: Limits = {
  maxHeadBytes: 64 * 1024,
  headTimeoutMillis: 10_000,
  maxBodyBytes: 1024 * 1024,
  lingerMillis: 5_000
}

/** The longest `hold` or `delay` any scenario accepts, in milliseconds. */
export const maxHoldMillis = 120_000
/** The largest body size a scenario accepts for `length`, `sent`, `a` and `b`. */
export const maxBodyLength = 16 * 1024 * 1024

/**
 * Starts the raw listener on `host` (a free port), closing it, every open
 * socket and every pending timer with the scope.
 */
export const start = (
  state: ServerState,
  host: string,
  limits: Limits = defaultLimits,
  log?: ((line: string) => void) | undefined
) =>
  Effect.acquireRelease(
    Effect.callback<Listener, ServeError>((resume) => {
      const listener = new Listener(state, limits, log)
      const onError = (cause: unknown) => {
        listener.server.close()
        resume(Effect.fail(new ServeError({ cause })))
      }
      listener.server.once("error", onError)
      // An options object of ours, not Node's copy of positional arguments: nothing read from `Object.prototype`.
      listener.server.listen(exactly({ port: 0, host }), () => {
        listener.server.off("error", onError)
        // Errors after listening (for example a failed accept) must not crash the process.
        listener.server.on("error", () => {})
        const address = listener.server.address() as Net.AddressInfo
        listener.port = address.port
        listener.url = `http://${formatHost(host)}:${address.port}`
        resume(Effect.succeed(listener))
      })
    }),
    (listener) => Effect.callback<void>((resume) => listener.close(() => resume(Effect.void)))
  ).pipe(Effect.map((listener): RawListener => ({
    url: listener.url,
    port: listener.port,
    stats: () => listener.stats()
  })))

/** Brackets an IPv6 literal for use in a URL. */
export const formatHost = (host: string): string => (host.includes(":") ? `[${host}]` : host)

// ---------------------------------------------------------------------------
// Listener and connections
// ---------------------------------------------------------------------------

/** What `net.Server` reads from its options. */
const netServerOptionNames: ReadonlyArray<string> = [
  "allowHalfOpen",
  "blockList",
  "highWaterMark",
  "keepAlive",
  "keepAliveInitialDelay",
  "noDelay",
  "pauseOnConnect"
]

class Listener {
  readonly server: Net.Server
  readonly connections = new Set<Connection>()
  url = ""
  port = 0
  private closing = false
  readonly state: ServerState
  readonly limits: Limits
  /** Called with one line per request once its connection is gone (`TestServer`'s `log`). */
  readonly log: ((line: string) => void) | undefined

  constructor(state: ServerState, limits: Limits, log: ((line: string) => void) | undefined) {
    this.state = state
    this.limits = limits
    this.log = log
    // `net.createServer` copies its options into an object literal: every option it reads is given, so the copy
    // cannot take one from a polluted `Object.prototype` (RELIABILITY 10).
    this.server = Net.createServer(pinned(netServerOptionNames, { allowHalfOpen: true }), (socket) => {
      if (this.closing) {
        socket.on("error", () => {})
        socket.destroy()
        return
      }
      const connection = new Connection(this, socket, state.nextConnection())
      this.connections.add(connection)
    })
    // Read from the server itself when accepting, set only when given: never from `Object.prototype`.
    pinAbsent(this.server, ["blockList"])
  }

  stats() {
    let timers = 0
    for (const connection of this.connections) timers += connection.timers.size
    return { connections: this.connections.size, timers }
  }

  close(done: () => void): void {
    this.closing = true
    let pending = 2
    const step = () => {
      pending -= 1
      if (pending === 0) done()
    }
    this.server.close(step)
    for (const connection of this.connections) connection.dispose()
    this.connections.clear()
    step()
  }
}

type Phase =
  /** Reading the request head. */
  | "head"
  /** Draining a request body announced by `Content-Length`. */
  | "body"
  /** A scenario is writing and must finish even if the client half-closed. */
  | "responding"
  /** Waiting for a timer to end the connection; the client leaving ends it too. */
  | "holding"
  /** The answer was ended; waiting for the client to close. */
  | "done"

/** What a scenario may do with the connection. */
interface Exchange {
  /** Writes bytes as they are. */
  readonly write: (bytes: Uint8Array) => void
  /** Writes `bytes` (if any), ends the connection and lets it close. */
  readonly finish: (bytes?: Uint8Array) => void
  /** Keeps the connection open for `millis`, then destroys it; ends early when the client leaves. */
  readonly hold: (millis: number) => void
  /** Runs `f` after `millis` unless the connection is gone by then; the client leaving does not stop it. */
  readonly after: (millis: number, f: () => void) => void
  /** Aborts with a TCP RST. */
  readonly reset: () => void
}

class Connection implements Exchange {
  readonly timers = new Set<ReturnType<typeof setTimeout>>()
  private phase: Phase = "head"
  /** Head bytes received so far (before the terminator was found). */
  private readonly parts: Array<Buffer> = []
  private size = 0
  /** The last bytes of the head received so far, to find a terminator split across reads. */
  private tail: Buffer = Buffer.alloc(0)
  private bodyRemaining = 0
  private discarded = 0
  private request: ParsedRequest | undefined
  private disposed = false
  /** Whether the answer was ended and flushed to the kernel. */
  private flushed = false
  /** When the request head was read, for the log line. */
  private receivedAt = 0
  /** What the first bytes written were, for the log line: a status line's status, or other bytes. */
  private status: number | "bytes" | undefined
  private readonly deadline: ReturnType<typeof setTimeout> | undefined

  readonly listener: Listener
  readonly socket: Net.Socket
  /** The server-wide sequence number of this connection, as the request log reports it. */
  readonly number: number

  constructor(listener: Listener, socket: Net.Socket, number: number) {
    this.listener = listener
    this.socket = socket
    this.number = number
    socket.on("error", () => {})
    socket.on("close", () => this.dispose())
    socket.on("data", (chunk: Buffer) => this.onData(chunk))
    socket.on("end", () => this.onEnd())
    this.deadline = this.schedule(listener.limits.headTimeoutMillis, () => {
      if (this.phase === "head" || this.phase === "body") {
        this.finish(plain(408, "request head or body not received in time\n"))
      }
    })
  }

  /** Destroys the socket and clears every timer; safe to call twice. */
  dispose(): void {
    if (this.disposed) return
    this.logLine()
    this.disposed = true
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
    this.listener.connections.delete(this)
    this.socket.destroy()
  }

  private schedule(millis: number, f: () => void): ReturnType<typeof setTimeout> | undefined {
    if (this.disposed) return undefined
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      if (!this.disposed) f()
    }, millis)
    this.timers.add(timer)
    return timer
  }

  /** Notes the status of the answer from its first bytes, when they are a status line. */
  private noteStatus(bytes: Uint8Array | undefined): void {
    if (this.status !== undefined || bytes === undefined || this.listener.log === undefined) return
    const match = /^HTTP\/\d\.\d (\d{3})/.exec(Buffer.from(bytes.subarray(0, 16)).toString("latin1"))
    this.status = match === null ? "bytes" : Number(match[1])
  }

  /** The log line of the request this connection carried, once, when it goes. */
  private logLine(): void {
    const request = this.request
    if (this.listener.log === undefined || request === undefined) return
    this.listener.log(`raw ${
      RequestLog.format({
        method: request.method,
        target: request.query === "" ? request.path : `${request.path}?${request.query}`,
        status: this.status,
        millis: performance.now() - this.receivedAt,
        completed: this.flushed
      })
    }`)
  }

  private onEnd(): void {
    // The client half-closed or closed. A scenario that is still writing (such
    // as `/slow-headers`) or an answer still being flushed carries on, and
    // closes once done; anything else ends now.
    if (this.phase === "responding" || (this.phase === "done" && !this.flushed)) return
    this.dispose()
  }

  private onData(chunk: Buffer): void {
    switch (this.phase) {
      case "head":
        return this.onHeadData(chunk)
      case "body":
        return this.onBodyData(chunk)
      default:
        return this.discard(chunk.length)
    }
  }

  private discard(length: number): void {
    this.discarded += length
    if (this.discarded > this.listener.limits.maxBodyBytes) this.dispose()
  }

  private onHeadData(chunk: Buffer): void {
    const { maxHeadBytes } = this.listener.limits
    const window = this.tail.length === 0 ? chunk : Buffer.concat([this.tail, chunk])
    const found = findHeadEnd(window)
    if (found === undefined) {
      this.parts.push(chunk)
      this.size += chunk.length
      if (this.size > maxHeadBytes) return this.refuseHead()
      this.tail = Buffer.from(window.subarray(Math.max(0, window.length - 3)))
      return
    }
    const headEnd = this.size - this.tail.length + found.index
    const bodyStart = headEnd + found.length
    if (bodyStart > maxHeadBytes) return this.refuseHead()
    const all = Buffer.concat([...this.parts, chunk])
    this.parts.length = 0
    const parsed = parseHead(all.subarray(0, headEnd))
    if (parsed === undefined) {
      this.phase = "responding"
      return this.finish(plain(400, "malformed request head\n"))
    }
    this.request = parsed
    this.receivedAt = performance.now()
    this.listener.state.record({
      listener: "raw",
      httpVersion: parsed.httpVersion,
      method: parsed.method,
      path: parsed.path,
      query: parsed.query,
      headers: parsed.headers,
      arrivedAt: Date.now(),
      connection: this.number
    })
    const announced = parsed.contentLength
    const rest = all.length - bodyStart
    if (announced !== undefined && announced <= this.listener.limits.maxBodyBytes && announced > rest) {
      this.phase = "body"
      this.bodyRemaining = announced - rest
      return
    }
    this.respond()
    this.discard(Math.max(0, rest - (announced ?? 0)))
  }

  private onBodyData(chunk: Buffer): void {
    const used = Math.min(chunk.length, this.bodyRemaining)
    this.bodyRemaining -= used
    if (this.bodyRemaining > 0) return
    this.respond()
    this.discard(chunk.length - used)
  }

  private refuseHead(): void {
    this.parts.length = 0
    this.phase = "responding"
    this.finish(plain(431, "request head too large\n"))
  }

  private respond(): void {
    const request = this.request!
    this.phase = "responding"
    if (this.deadline !== undefined) {
      clearTimeout(this.deadline)
      this.timers.delete(this.deadline)
    }
    const scenario = Object.hasOwn(scenarios, request.path) ? scenarios[request.path]! : undefined
    if (scenario === undefined) return this.finish(plain(404, notFoundBody))
    const params = new Params(request.query)
    try {
      scenario.run(params, this)
    } catch (error) {
      if (error instanceof InvalidParameter) this.finish(plain(400, `invalid parameter ${error.message}\n`))
      else this.finish(plain(500, "the raw scenario failed\n"))
    }
  }

  // Exchange ------------------------------------------------------------------

  readonly write = (bytes: Uint8Array): void => {
    this.noteStatus(bytes)
    if (!this.disposed && this.socket.writable) this.socket.write(bytes)
  }

  readonly finish = (bytes?: Uint8Array): void => {
    if (this.disposed || this.phase === "done") return
    this.noteStatus(bytes)
    this.phase = "done"
    const afterFlush = () => {
      this.flushed = true
      if (this.socket.readableEnded) this.dispose()
      else this.schedule(this.listener.limits.lingerMillis, () => this.dispose())
    }
    if (bytes === undefined) this.socket.end(afterFlush)
    else this.socket.end(bytes, afterFlush)
  }

  readonly hold = (millis: number): void => {
    if (this.disposed) return
    this.phase = "holding"
    if (this.socket.readableEnded) return this.dispose()
    this.schedule(millis, () => this.dispose())
  }

  readonly after = (millis: number, f: () => void): void => {
    this.schedule(millis, f)
  }

  readonly reset = (): void => {
    if (this.disposed) return
    this.logLine()
    this.disposed = true
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
    this.listener.connections.delete(this)
    this.socket.resetAndDestroy()
  }
}

// ---------------------------------------------------------------------------
// Request parsing
// ---------------------------------------------------------------------------

interface ParsedRequest {
  readonly method: string
  readonly path: string
  readonly query: string
  readonly headers: Record<string, string>
  readonly contentLength: number | undefined
  readonly httpVersion: string
}

/** Where the head ends (`\r\n\r\n`, or a lenient `\n\n`) and how long the terminator is. */
const findHeadEnd = (buffer: Buffer): { index: number; length: number } | undefined => {
  const crlf = buffer.indexOf("\r\n\r\n")
  const lf = buffer.indexOf("\n\n")
  if (lf !== -1 && (crlf === -1 || lf < crlf)) return { index: lf, length: 2 }
  if (crlf !== -1) return { index: crlf, length: 4 }
  return undefined
}

const requestLinePattern = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP\/(\d\.\d)$/

const parseHead = (head: Buffer): ParsedRequest | undefined => {
  const lines = head.toString("latin1").split(/\r?\n/)
  const match = requestLinePattern.exec(lines[0] ?? "")
  if (match === null) return undefined
  // The path as sent (`//x`, `/./x` kept, as the HTTP listener logs it); the query as a URL has it.
  const target = splitTarget(match[2]!)
  let url: URL
  try {
    url = new URL(`http://raw.invalid/?${target.query}`)
  } catch {
    return undefined
  }
  const headers: Record<string, string> = Object.create(null)
  let last: string | undefined
  for (const line of lines.slice(1)) {
    if (line === "") continue
    if ((line.startsWith(" ") || line.startsWith("\t")) && last !== undefined) {
      headers[last] = `${headers[last]} ${line.trim()}`
      continue
    }
    const colon = line.indexOf(":")
    if (colon <= 0) return undefined
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value
    last = name
  }
  const length = headers["content-length"]
  return {
    httpVersion: match[3]!,
    method: match[1]!,
    path: target.path,
    query: url.search.slice(1),
    headers,
    contentLength: length !== undefined && /^\d{1,15}$/.test(length) ? Number(length) : undefined
  }
}

// ---------------------------------------------------------------------------
// Query parameters
// ---------------------------------------------------------------------------

class InvalidParameter extends Error {}

const isHex = (byte: number | undefined): boolean =>
  byte !== undefined &&
  ((byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66))

/** Percent-decodes to bytes: `%XX` becomes one byte, `+` a space, anything else stays. */
const percentDecode = (text: string): Buffer => {
  const input = Buffer.from(text.replaceAll("+", " "), "latin1")
  const output = Buffer.alloc(input.length)
  let length = 0
  for (let i = 0; i < input.length; i++) {
    const byte = input[i]!
    if (byte === 0x25 && isHex(input[i + 1]) && isHex(input[i + 2])) {
      output[length++] = Number.parseInt(input.toString("latin1", i + 1, i + 3), 16)
      i += 2
    } else {
      output[length++] = byte
    }
  }
  return output.subarray(0, length)
}

class Params {
  private readonly entries: Array<readonly [string, Buffer]> = []
  /** The undecoded values, for `b64` where `+` must stay a `+`. */
  private readonly raw = new Map<string, string>()

  constructor(query: string) {
    for (const part of query.split("&")) {
      if (part === "") continue
      const equals = part.indexOf("=")
      const name = percentDecode(equals === -1 ? part : part.slice(0, equals)).toString("utf8")
      const value = equals === -1 ? "" : part.slice(equals + 1)
      this.entries.push([name, percentDecode(value)])
      if (!this.raw.has(name)) this.raw.set(name, value)
    }
  }

  bytes(name: string): Buffer | undefined {
    return this.entries.find(([key]) => key === name)?.[1]
  }

  required(name: string): Buffer {
    const value = this.bytes(name)
    if (value === undefined) throw new InvalidParameter(`${name} (required)`)
    return value
  }

  all(name: string): Array<Buffer> {
    return this.entries.filter(([key]) => key === name).map(([, value]) => value)
  }

  undecoded(name: string): string | undefined {
    return this.raw.get(name)
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const value = this.bytes(name)?.toString("latin1")
    if (value === undefined || value === "") return fallback
    if (!/^\d{1,16}$/.test(value) || Number(value) < min || Number(value) > max) {
      throw new InvalidParameter(`${name} (an integer from ${min} to ${max})`)
    }
    return Number(value)
  }

  choice<const A extends string>(name: string, fallback: A, choices: ReadonlyArray<A>): A {
    const value = this.bytes(name)?.toString("latin1")
    if (value === undefined || value === "") return fallback
    const found = choices.find((choice) => choice === value)
    if (found === undefined) throw new InvalidParameter(`${name} (one of ${choices.join(", ")})`)
    return found
  }
}

// ---------------------------------------------------------------------------
// Response bytes
// ---------------------------------------------------------------------------

type Bytes = string | Uint8Array
type Header = readonly [name: Bytes, value: Bytes]

const CRLF = Buffer.from("\r\n", "latin1")
const toBuffer = (
  bytes: Bytes
): Buffer => (typeof bytes === "string" ? Buffer.from(bytes, "latin1") : Buffer.from(bytes))

const statusLine = (status: number): Buffer =>
  Buffer.from(`HTTP/1.1 ${status} ${own(STATUS_CODES, status) ?? "Unknown"}\r\n`, "latin1")

const headerLines = (headers: ReadonlyArray<Header>): Buffer =>
  Buffer.concat(headers.flatMap(([name, value]) => [toBuffer(name), Buffer.from(": "), toBuffer(value), CRLF]))

/** A whole response: status line, headers, the blank line, then `body`. */
const response = (status: number, headers: ReadonlyArray<Header>, body: Bytes = ""): Buffer =>
  Buffer.concat([statusLine(status), headerLines(headers), CRLF, toBuffer(body)])

/** A well-formed plain-text answer that closes the connection. */
const plain = (status: number, body: string): Buffer =>
  response(status, [
    ["Content-Type", "text/plain; charset=utf-8"],
    ["Content-Length", String(Buffer.byteLength(body))],
    ["Connection", "close"]
  ], body)

/** `n` bytes of `abc…xyzabc…`, so a client can tell which bytes it got. */
const filler = (n: number): Buffer => {
  const out = Buffer.alloc(n)
  for (let i = 0; i < n; i++) out[i] = 0x61 + (i % 26)
  return out
}

// ---------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------

interface Scenario {
  /** The path with its parameters and defaults, as the 404 answer lists it. */
  readonly usage: string
  readonly run: (params: Params, exchange: Exchange) => void
}

const separators = { crlf: "\r\n", cr: "\r", lf: "\n", nul: "\0" } as const

const scenarios: Record<string, Scenario> = {
  "/health": {
    usage: "/health",
    run: (_params, exchange) =>
      exchange.finish(response(200, [
        ["Content-Type", "application/json"],
        ["Content-Length", "15"],
        ["Connection", "close"]
      ], `{"status":"ok"}`))
  },
  "/two-content-lengths": {
    usage: "/two-content-lengths?a=10&b=20",
    run: (params, exchange) => {
      const a = params.int("a", 10, 0, maxBodyLength)
      const b = params.int("b", 20, 0, maxBodyLength)
      exchange.finish(response(200, [
        ["Content-Type", "text/plain"],
        ["Content-Length", String(a)],
        ["Content-Length", String(b)],
        ["Connection", "close"]
      ], filler(Math.max(a, b))))
    }
  },
  "/chunked-no-end": {
    usage: "/chunked-no-end?chunks=3&hold=30000",
    run: (params, exchange) => {
      const chunks = params.int("chunks", 3, 0, 1000)
      const hold = params.int("hold", 30_000, 0, maxHoldMillis)
      const body: Array<Buffer> = []
      for (let i = 1; i <= chunks; i++) {
        const data = `chunk ${i}\n`
        body.push(Buffer.from(`${data.length.toString(16)}\r\n${data}\r\n`, "latin1"))
      }
      exchange.write(Buffer.concat([
        response(200, [
          ["Content-Type", "text/plain"],
          ["Transfer-Encoding", "chunked"],
          ["Connection", "close"]
        ]),
        ...body
      ]))
      exchange.hold(hold)
    }
  },
  "/short-body": {
    usage: "/short-body?length=100&sent=50",
    run: (params, exchange) => {
      const length = params.int("length", 100, 0, maxBodyLength)
      const sent = params.int("sent", 50, 0, maxBodyLength)
      exchange.finish(response(200, [
        ["Content-Type", "application/octet-stream"],
        ["Content-Length", String(length)],
        ["Connection", "close"]
      ], filler(sent)))
    }
  },
  "/location-crlf": {
    usage: "/location-crlf?form=crlf|cr|lf|nul&to=/health&inject=Set-Cookie: injected=1",
    run: (params, exchange) => {
      const form = params.choice("form", "crlf", ["crlf", "cr", "lf", "nul"])
      const to = params.bytes("to") ?? Buffer.from("/health")
      const inject = params.bytes("inject") ?? Buffer.from("Set-Cookie: injected=1")
      exchange.finish(response(302, [
        ["Location", Buffer.concat([to, Buffer.from(separators[form], "latin1"), inject])],
        ["Content-Length", "0"],
        ["Connection", "close"]
      ]))
    }
  },
  "/retry-after": {
    usage: "/retry-after?value=V&status=503",
    run: (params, exchange) => {
      const value = params.required("value")
      const status = params.int("status", 503, 100, 599)
      exchange.finish(response(status, [
        ["Retry-After", value],
        ["Content-Length", "0"],
        ["Connection", "close"]
      ]))
    }
  },
  "/header": {
    usage: "/header?name=N&value=V&status=200 (repeat value for repeated headers)",
    run: (params, exchange) => {
      const name = params.required("name")
      const values = params.all("value")
      const status = params.int("status", 200, 100, 599)
      const lower = name.toString("latin1").toLowerCase()
      const own: Array<Header> = [
        ["Content-Type", "text/plain"],
        ["Content-Length", "3"],
        ["Connection", "close"]
      ]
      exchange.finish(response(status, [
        ...(values.length === 0 ? [Buffer.alloc(0)] : values).map((value): Header => [name, value]),
        ...own.filter(([ownName]) => String(ownName).toLowerCase() !== lower)
      ], "ok\n"))
    }
  },
  "/bytes": {
    usage: "/bytes?b64=BASE64&hold=0",
    run: (params, exchange) => {
      // Base64 never holds a space, so a `+` left unencoded in the URL is a `+`.
      const b64 = (params.undecoded("b64") ?? "").replaceAll("+", "%2B")
      const text = percentDecode(b64).toString("latin1")
      if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(text)) throw new InvalidParameter("b64 (base64 or base64url)")
      const hold = params.int("hold", 0, 0, maxHoldMillis)
      const bytes = Buffer.from(text, "base64")
      if (hold === 0) return exchange.finish(bytes)
      exchange.write(bytes)
      exchange.hold(hold)
    }
  },
  "/hang": {
    usage: "/hang?hold=60000",
    run: (params, exchange) => exchange.hold(params.int("hold", 60_000, 0, maxHoldMillis))
  },
  "/headers-then-hang": {
    usage: "/headers-then-hang?hold=60000&length=100&sent=0",
    run: (params, exchange) => {
      const hold = params.int("hold", 60_000, 0, maxHoldMillis)
      const length = params.int("length", 100, 0, maxBodyLength)
      const sent = params.int("sent", 0, 0, length)
      exchange.write(response(200, [
        ["Content-Type", "application/octet-stream"],
        ["Content-Length", String(length)],
        ["Connection", "close"]
      ], filler(sent)))
      exchange.hold(hold)
    }
  },
  "/close": {
    usage: "/close",
    run: (_params, exchange) => exchange.finish()
  },
  "/reset": {
    usage: "/reset",
    run: (_params, exchange) => exchange.reset()
  },
  "/slow-headers": {
    usage: "/slow-headers?delay=5000",
    run: (params, exchange) => {
      const delay = params.int("delay", 5_000, 0, maxHoldMillis)
      const whole = response(200, [
        ["Content-Type", "text/plain"],
        ["Content-Length", "3"],
        ["Connection", "close"]
      ], "ok\n")
      const first = statusLine(200)
      exchange.write(first)
      exchange.after(delay, () => exchange.finish(whole.subarray(first.length)))
    }
  }
}

const notFoundBody = `unknown raw-socket path; the scenarios are:\n${
  Object.values(scenarios).map((scenario) => `${scenario.usage}\n`).join("")
}`

/** Every scenario with its parameters and defaults, as `GET /` of the HTTP listener and the 404 above list them. */
export const scenarioUsages: ReadonlyArray<string> = Object.values(scenarios).map((scenario) => scenario.usage)

/** The paths of the scenarios, for the HTTP listener's 404 to point at the raw-socket listener. */
export const scenarioPaths: ReadonlyArray<string> = Object.keys(scenarios)
