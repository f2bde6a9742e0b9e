/**
 * A TLS endpoint for Redis clients, with a certificate made at test time
 * (`TlsTest.selfSigned`, trusted by nobody unless a client is given it), that
 * records what reached it: every byte on the wire (before TLS), and every
 * byte a client sent after a completed handshake. With `forward`, what
 * arrives after the handshake goes on to the test Redis, so a client that
 * trusts the certificate gets real answers.
 */
import * as RedisTest from "@httpkit/testing/RedisTest"
import * as TlsTest from "@httpkit/testing/TlsTest"
import { Effect } from "effect"
import type * as Scope from "effect/Scope"
import * as Net from "node:net"
import * as Tls from "node:tls"

/** A recording TLS endpoint on loopback. */
export interface TlsRedis {
  /** The port clients connect to, on `host`. */
  readonly port: number
  /** `rediss://[userInfo@]host:port`. */
  readonly url: (userInfo?: string) => string
  /** The certificate the endpoint presents (PEM), for a client that is told to trust it. */
  readonly cert: string
  /** TCP connections accepted. */
  readonly connections: () => number
  /** Every byte clients sent on the wire, TLS records included, in arrival order. */
  readonly wire: () => Buffer
  /** Bytes clients sent after a completed handshake (decrypted): what a client sent over the channel. */
  readonly received: () => Buffer
}

const listen = (server: Net.Server, host: string) =>
  new Promise<number>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, host, () => resolve((server.address() as Net.AddressInfo).port))
  })

const close = (server: Net.Server, sockets: Set<Net.Socket>) =>
  new Promise<void>((resolve) => {
    for (const socket of sockets) socket.destroy()
    server.close(() => resolve())
  })

/**
 * Starts the endpoint (two loopback listeners: one in front recording the wire,
 * on `host`, the TLS server behind it on 127.0.0.1), closed with the scope. The
 * certificate names `localhost`, `127.0.0.1` and `::1`: another loopback
 * address (`127.0.0.2`) is a host it does not name.
 */
export const make = (
  options: { readonly forward?: boolean; readonly host?: string } = {}
): Effect.Effect<TlsRedis, TlsTest.CertificateError, Scope.Scope> =>
  Effect.gen(function*() {
    const certificate = yield* TlsTest.selfSigned()
    const wire: Array<Buffer> = []
    const received: Array<Buffer> = []
    const sockets = new Set<Net.Socket>()
    let connections = 0
    const track = (socket: Net.Socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
      socket.on("error", () => socket.destroy())
    }
    const upstream = new URL(RedisTest.url)
    const tls = Tls.createServer({ key: certificate.key, cert: certificate.cert }, (socket) => {
      track(socket)
      const redis = options.forward === true
        ? Net.connect(Number(upstream.port === "" ? 6379 : upstream.port), upstream.hostname)
        : undefined
      if (redis !== undefined) {
        track(redis)
        redis.on("data", (chunk: Buffer) => socket.write(chunk))
        redis.on("close", () => socket.destroy())
        socket.on("close", () => redis.destroy())
      }
      socket.on("data", (chunk: Buffer) => {
        received.push(chunk)
        redis?.write(chunk)
      })
    })
    // A client that refuses the certificate ends the handshake: not a fault of the endpoint.
    tls.on("tlsClientError", () => {})
    const front = Net.createServer((client) => {
      connections++
      track(client)
      const back = Net.connect(tlsPort, "127.0.0.1")
      track(back)
      client.on("data", (chunk: Buffer) => {
        wire.push(chunk)
        back.write(chunk)
      })
      back.on("data", (chunk: Buffer) => client.write(chunk))
      client.on("close", () => back.destroy())
      back.on("close", () => client.destroy())
    })
    const host = options.host ?? "127.0.0.1"
    const tlsPort = yield* Effect.promise(() => listen(tls, "127.0.0.1"))
    const port = yield* Effect.promise(() => listen(front, host))
    yield* Effect.addFinalizer(() =>
      Effect.promise(() => Promise.all([close(front, sockets), close(tls, sockets)]).then(() => undefined))
    )
    return {
      port,
      url: (userInfo) => `rediss://${userInfo === undefined ? "" : `${userInfo}@`}${host}:${port}`,
      cert: certificate.cert,
      connections: () => connections,
      wire: () => Buffer.concat(wire),
      received: () => Buffer.concat(received)
    }
  })
