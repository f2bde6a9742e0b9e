/**
 * The server of the client benchmarks, in a child process: HTTP/1.1
 * keep-alive on 127.0.0.1, every request answered 200 with the payload.
 *
 * `node bench/support/jsonServer.ts` runs it by itself and prints its port.
 */
import * as Http from "node:http"
import { body } from "./payload.ts"
import { listenInChild, type ServerProcess, startServerProcess } from "./server.ts"

/**
 * The JSON server, in the process that calls it: HTTP/1.1 keep-alive, every
 * request answered 200 with the payload, its body drained unread.
 */
export const serveJson = (): void => {
  const bytes = Buffer.from(body)
  const headers = { "content-type": "application/json", "content-length": String(bytes.byteLength) }
  const server = Http.createServer((request, response) => {
    request.resume()
    response.writeHead(200, headers)
    response.end(bytes)
  })
  server.keepAliveTimeout = 120_000
  server.headersTimeout = 130_000
  listenInChild(server)
}

/** Starts the JSON server in a child process; `url` is where it answers. */
export const startJsonServer = async (): Promise<ServerProcess & { readonly url: string }> => {
  const server = await startServerProcess([import.meta.filename])
  return { ...server, url: `http://127.0.0.1:${server.port}/payload` }
}

if (import.meta.main) serveJson()
