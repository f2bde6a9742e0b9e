/**
 * The endpoint's cap on open connections, which makes room for a new one by
 * closing the connection idle the longest.
 *
 * Node's own `maxConnections` closes every connection past the cap as it
 * arrives: connections that send nothing (or a header line now and then)
 * kept every scrape out until the headers' limit closed them. Here a
 * connection without a request in progress (one that has sent nothing yet,
 * or only part of its headers, or a kept-alive one between requests) is
 * idle; when one more connection than the cap is open, the one idle the
 * longest is closed, and the newcomer only when every other connection has a
 * request in progress. A scraper sends its request at once, so it is never
 * the one idle the longest. For a moment (until the events already received
 * are handled) one connection more than the cap is open.
 */
import type * as Http from "node:http"
import type * as Net from "node:net"

/** Keeps at most `max` connections of `server` open (one more for a moment), closing the one idle the longest. */
export const cap = (server: Http.Server, max: number): void => {
  // Insertion order is the order in which they became idle: the first is idle the longest.
  const idle = new Set<Net.Socket>()
  const busy = new Map<Net.Socket, number>()
  let pending = false
  /**
   * Closes connections idle the longest until `max` are open. Run after the
   * other events of the same turn of the event loop: a request already
   * received (but not parsed yet, while formatting blocked the loop) makes
   * its connection busy first, and is not the one closed.
   */
  const trim = () => {
    pending = false
    for (const socket of idle) if (socket.destroyed) idle.delete(socket)
    for (const socket of busy.keys()) if (socket.destroyed) busy.delete(socket)
    while (idle.size + busy.size > max) {
      const oldest = idle.values().next().value
      // Every connection with a request in progress: the newcomer had one too; Node refuses the next.
      if (oldest === undefined) return
      idle.delete(oldest)
      oldest.destroy()
    }
  }
  // Node refuses connections past this one at once, while the one in excess waits for `trim`.
  server.maxConnections = max + 1
  server.on("connection", (socket: Net.Socket) => {
    idle.add(socket)
    socket.once("close", () => {
      idle.delete(socket)
      busy.delete(socket)
    })
    if (idle.size + busy.size > max && !pending) {
      pending = true
      setImmediate(trim)
    }
  })
  server.on("request", (request: Http.IncomingMessage, response: Http.ServerResponse) => {
    const socket = request.socket
    idle.delete(socket)
    busy.set(socket, (busy.get(socket) ?? 0) + 1)
    response.once("close", () => {
      const left = (busy.get(socket) ?? 1) - 1
      if (left > 0) return void busy.set(socket, left)
      busy.delete(socket)
      if (!socket.destroyed) idle.add(socket)
    })
  })
}
