/**
 * The pieces of undici the client's transport uses (`Agent`, `Pool`,
 * `Client`, and the `kQueuedAbort` symbol), each loaded from its own module
 * when this module is imported, rather than from undici's root.
 *
 * **Details**
 *
 * undici's root module loads all of undici: fetch, WebSocket, EventSource,
 * caches, mocks, proxies, interceptors (about 110 CommonJS modules, 1.3 MB of
 * source), which took about 100 ms of CPU time in every process that built a
 * client; these pieces load about 25 modules (`bench/startup.ts --imports`).
 * Effect's `NodeHttpClient.makeDispatcherOptions` builds its `Agent` from the
 * root, so `transport.ts` builds its own the same way. Requests go through
 * `undiciRequest.ts`, not undici's `Dispatcher#request`.
 *
 * They load on import, not with the first client: Node's module loader reads
 * `signal` and `encoding` from an options object of its own on every file it
 * resolves, so with either name on a polluted `Object.prototype` no module
 * loads at all (RELIABILITY 10). A process that imports the client and builds
 * none pays for them anyway. For the same reason the HTTP/1.1 parser that
 * undici requires on its first connection (`llhttp`, WebAssembly) is required
 * here first, from undici's own folder under the names undici uses, so that
 * Node's cache of resolved names answers undici's require later.
 *
 * undici's `Request` (one per request dispatched) reads `error`,
 * `errorHandler` and `endHandler` from itself before it ever sets them: with a
 * polluted `Object.prototype.error`, every request failed before it was sent,
 * and a polluted `endHandler` crashed the process. Each is pinned as an own
 * `undefined` of `Request.prototype` when this module loads.
 *
 * **Gotchas**
 *
 * - The paths are inside undici's `lib/`, which undici does not publish as
 *   an interface (its package has no `exports` map, so Node allows them). The
 *   version is pinned; `test/startup.test.ts` checks that each piece is the one
 *   undici's root exports, and `test/pollution-undici.test.ts` that a request
 *   reads nothing from a polluted `Object.prototype`, so an upgrade that moves
 *   one fails there.
 * - Pinning `Request.prototype` changes undici's class for every user of this
 *   copy of undici in the process: their requests, too, read `undefined`
 *   rather than a polluted value.
 */
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"
import type * as Undici from "undici"

/** What the transport takes from undici. */
export interface UndiciParts {
  readonly Agent: typeof Undici.Agent
  readonly Pool: typeof Undici.Pool
  readonly Client: typeof Undici.Client
  /**
   * undici's `kQueuedAbort`: the dispatch option under which a pool or a client that queues a request (waiting
   * for a connection) finds the hook to hand the queue's abort to.
   */
  readonly kQueuedAbort: symbol
}

/** Where each piece is, inside the `undici` package. */
export const paths = {
  Agent: "undici/lib/dispatcher/agent.js",
  Pool: "undici/lib/dispatcher/pool.js",
  Client: "undici/lib/dispatcher/client.js",
  symbols: "undici/lib/core/symbols.js",
  Request: "undici/lib/core/request.js",
  /** The module that requires the HTTP/1.1 parser (WebAssembly) on the first connection. */
  clientH1: "undici/lib/dispatcher/client-h1.js"
} as const

/** What `clientH1` requires on the first connection, as it names them: with SIMD, and without. */
export const parserModules: ReadonlyArray<string> = ["../llhttp/llhttp_simd-wasm.js", "../llhttp/llhttp-wasm.js"]

/** The fields undici's `Request` reads before it sets them (`onRequestStart`, `onFinally`). */
export const requestFieldsReadUnset: ReadonlyArray<string> = ["error", "errorHandler", "endHandler"]

const loadParts = (): UndiciParts => {
  // A file path, not `import.meta.url`: `createRequire` tells a URL from a path by reading `path` from it.
  const require = createRequire(fileURLToPath(import.meta.url))
  const symbols = require(paths.symbols) as { readonly kQueuedAbort?: unknown }
  if (typeof symbols.kQueuedAbort !== "symbol") throw new Error("undici has no kQueuedAbort symbol")
  const Request = require(paths.Request) as { readonly prototype: object }
  for (const name of requestFieldsReadUnset) {
    if (!Object.hasOwn(Request.prototype, name)) {
      Object.defineProperty(Request.prototype, name, { value: undefined, writable: true, configurable: true })
    }
  }
  // Required now from `clientH1`'s folder, by the names it uses: Node's cache of resolved names then answers the
  // require undici makes on the first connection, which would otherwise resolve the file anew.
  const fromClientH1 = createRequire(require.resolve(paths.clientH1))
  for (const name of parserModules) fromClientH1(name)
  return {
    Agent: require(paths.Agent) as UndiciParts["Agent"],
    Pool: require(paths.Pool) as UndiciParts["Pool"],
    Client: require(paths.Client) as UndiciParts["Client"],
    kQueuedAbort: symbols.kQueuedAbort
  }
}

const loaded: UndiciParts = loadParts()

/** The pieces (loaded when this module was imported). */
export const load = (): UndiciParts => loaded
