/**
 * The function undici's pools call to open a connection: undici's own
 * `buildConnector`, rewritten so that the options given to `net.connect` and
 * `tls.connect` are ours alone.
 *
 * **Details**
 *
 * Node copies connection options into object literals (`{ ...options }`) and
 * reads dozens of names from them (`path`, `fd`, `lookup`, `localPort`,
 * `timeout`, `secureContext`, `ca`...). An option that is not an own property
 * of what it was given is then read from `Object.prototype`: a polluted
 * `socketPath` or `path` sends every request to a UNIX socket, a polluted
 * `ca` or `secureContext` trusts another certificate (RELIABILITY 10, 11).
 * undici's connector passes everything it was not told through like that,
 * and drops `timeout` from what it hands on, so it cannot be pinned there.
 * This connector names every option Node reads (`@httpkit/core/NodeOptions`),
 * with our value or `undefined`, as an own property, gives its sockets
 * tables of listeners without a prototype, and reads undici's arguments by
 * own keys.
 *
 * What it keeps of undici's: the TLS session cache per server name, the ALPN
 * offer (`http/1.1` then `h2`), TCP keep-alive (60 s), no Nagle, and the
 * connect timeout, reported as undici's `ConnectTimeoutError` (code
 * `UND_ERR_CONNECT_TIMEOUT`) after letting a pending socket error win.
 */
import * as NodeOptions from "@httpkit/core/NodeOptions"
import * as Net from "node:net"
import * as Tls from "node:tls"
import type * as Undici from "undici"
import { own, pinned } from "./own.ts"

/** What the connector is built from. */
export interface Options {
  /** The connect timeout, milliseconds; 0 for none. */
  readonly timeout: number
  /** Offer HTTP/2 by ALPN on https, unless undici's client says otherwise (`allowH2: false`). */
  readonly allowH2: boolean
  readonly rejectUnauthorized: boolean
  /** Extra trusted certificate authorities, PEM. */
  readonly ca: string | undefined
  /** Most TLS sessions kept for resumption. */
  readonly maxCachedSessions?: number
}

/** TLS sessions by server name, the oldest dropped first. */
class Sessions {
  readonly #max: number
  readonly #byName = new Map<string, Buffer>()
  constructor(max: number) {
    this.#max = max
  }
  get(name: string): Buffer | undefined {
    return this.#byName.get(name)
  }
  set(name: string, session: Buffer): void {
    if (this.#max === 0) return
    this.#byName.delete(name)
    if (this.#byName.size >= this.#max) {
      const oldest = this.#byName.keys().next()
      if (!oldest.done) this.#byName.delete(oldest.value)
    }
    this.#byName.set(name, session)
  }
}

/** The server name to send: the host without its port, or none for an IP address (as undici does). */
const serverNameOf = (host: string | undefined): string | null => {
  if (host === undefined || host === "") return null
  const name = host.startsWith("[") ? host.slice(1, host.indexOf("]")) : host.replace(/:\d*$/, "")
  return Net.isIP(name) === 0 ? name : null
}

/** undici's connect timeout error, by its code: what `failure.ts` maps to a `TimeoutError` in the connect phase. */
const connectTimeout = (hostname: string, port: number | string, timeout: number): Error =>
  Object.assign(
    new Error(`Connect Timeout Error (attempted address: ${hostname}:${port}, timeout: ${timeout}ms)`),
    { name: "ConnectTimeoutError", code: "UND_ERR_CONNECT_TIMEOUT" }
  )

/**
 * `net.connect(options)`, less its `timeout` (undici times the connection), with the socket's `blockList` pinned:
 * Node sets that field only when one is given, then reads it from the socket itself when connecting, which
 * would reach `Object.prototype`.
 */
const connectTcp = (options: Net.TcpNetConnectOpts): Net.Socket => {
  const socket = new Net.Socket(options)
  ;(socket as { blockList?: unknown }).blockList = undefined
  NodeOptions.pinEvents(socket)
  return socket.connect(options)
}

/** A connector for undici's `Client` (its `connect` option), opening sockets with exactly our options. */
export const make = (options: Options): Undici.buildConnector.connector => {
  const sessions = new Sessions(options.maxCachedSessions ?? 100)
  const withH2 = ["http/1.1", "h2"]
  const http1Only = ["http/1.1"]
  return (request, callback) => {
    // undici's argument is a fresh literal: its own keys are what undici meant.
    const hostname = own(request, "hostname")!
    const secure = own(request, "protocol") === "https:"
    const httpSocket = own(request, "httpSocket")
    const port = Number(own(request, "port") || (secure ? 443 : 80))
    // undici's HTTP/1.1-only pools say so (`allowH2: false`); ALPN then offers HTTP/1.1 alone.
    const alpn = (own(request as { readonly allowH2?: boolean }, "allowH2") ?? options.allowH2) ? withH2 : http1Only
    // TCP first, with our options, even under TLS: `tls.connect` would open it from a copy of its own making.
    const tcp = httpSocket ?? connectTcp(pinned(NodeOptions.netConnectOptions, {
      highWaterMark: secure ? 16384 : 64 * 1024,
      host: hostname,
      port,
      localAddress: own(request, "localAddress") ?? undefined
    }) as Net.TcpNetConnectOpts)
    let socket: Net.Socket = tcp
    let done = false
    let timer: ReturnType<typeof setTimeout> | undefined
    let immediate: ReturnType<typeof setImmediate> | undefined
    const finish = (error: Error | null) => {
      if (done) return
      done = true
      if (timer !== undefined) clearTimeout(timer)
      if (immediate !== undefined) clearImmediate(immediate)
      if (error === null) {
        callback(null, socket)
      } else {
        socket.destroy()
        tcp.destroy()
        callback(error, null)
      }
    }
    const onError = (error: Error) => finish(normalize(error, hostname, port, options.timeout))
    /** TLS over the connected TCP socket (or the tunnel undici gave), with our options only. */
    const secureIt = () => {
      const servername = own(request, "servername") || serverNameOf(own(request, "host")) || undefined
      const sessionKey = servername ?? hostname
      const closeListeners = tcp.listeners("close")
      try {
        socket = Tls.connect(pinned(NodeOptions.tlsConnectOptions, {
          socket: tcp,
          highWaterMark: 16384,
          host: hostname,
          port,
          servername,
          session: sessions.get(sessionKey),
          ALPNProtocols: alpn,
          rejectUnauthorized: options.rejectUnauthorized,
          ca: options.ca
        }))
      } catch (error) {
        // Node refused its own copy of the options (a polluted `blockList`, `typeOfService` or `encoding`, say): a
        // failed connection, not a crash. The TLS socket it gave up on had told the TCP socket to destroy it on
        // 'close', which would throw from the half-made socket: that listener goes first.
        for (const listener of tcp.listeners("close")) {
          if (!closeListeners.includes(listener)) tcp.off("close", listener as (...args: Array<unknown>) => void)
        }
        return finish(error as Error)
      }
      NodeOptions.pinEvents(socket)
      socket
        .on("error", onError)
        .on("session", (session: Buffer) => sessions.set(sessionKey, session))
        .once("secureConnect", () => finish(null))
    }
    tcp.on("error", onError)
    tcp.setKeepAlive(true, 60_000)
    tcp.setNoDelay(true)
    if (options.timeout > 0) {
      timer = setTimeout(() => {
        // A socket error already on its way wins over the timeout, as in undici.
        immediate = setImmediate(() => finish(connectTimeout(hostname, port, options.timeout)))
      }, options.timeout)
      timer.unref()
    }
    if (!secure) tcp.once("connect", () => finish(null))
    else if (httpSocket !== undefined) secureIt()
    else tcp.once("connect", secureIt)
    return socket
  }
}

/** Node's `AggregateError` when every address timed out (`autoSelectFamily`), as undici's connect timeout. */
const normalize = (error: Error, hostname: string, port: number | string, timeout: number): Error => {
  if (
    error instanceof AggregateError &&
    ((error as { code?: unknown }).code === "ETIMEDOUT" ||
      error.errors.some((inner) => (inner as { code?: unknown } | null)?.code === "ETIMEDOUT"))
  ) {
    return Object.assign(connectTimeout(hostname, port, timeout), { cause: error })
  }
  return error
}
