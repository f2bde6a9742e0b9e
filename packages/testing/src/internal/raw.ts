/**
 * The raw-socket mode: a TCP listener that speaks just enough HTTP/1.1 to read
 * a request head, then writes bytes no well-behaved HTTP library would send.
 */
import * as Effect from "effect/Effect"
import * as Net from "node:net"
import type { ServerState } from "./state.ts"

/** The address of a started raw listener. */
export interface RawListener {
  readonly url: string
  readonly port: number
}

/** Starts the raw listener on `host`, closing it and every open socket with the scope. */
export const start = (_state: ServerState, host: string) =>
  Effect.acquireRelease(
    Effect.callback<{ server: Net.Server; sockets: Set<Net.Socket>; listener: RawListener }>((resume) => {
      const sockets = new Set<Net.Socket>()
      const server = Net.createServer((socket) => {
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
        socket.on("error", () => {})
        socket.end("HTTP/1.1 501 Not Implemented\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
      })
      server.listen(0, host, () => {
        const address = server.address() as Net.AddressInfo
        resume(Effect.succeed({
          server,
          sockets,
          listener: { url: `http://${formatHost(host)}:${address.port}`, port: address.port }
        }))
      })
    }),
    ({ server, sockets }) =>
      Effect.callback<void>((resume) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ listener }) => listener))

/** Brackets an IPv6 literal for use in a URL. */
export const formatHost = (host: string): string => (host.includes(":") ? `[${host}]` : host)
