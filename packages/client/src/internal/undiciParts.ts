/**
 * The four pieces of undici the client's transport uses (`Agent`, `Pool`,
 * `Client` and `Dispatcher#request`), each loaded from its own module on the
 * first client built, rather than from undici's root.
 *
 * **Details**
 *
 * undici's root module loads all of undici: fetch, WebSocket, EventSource,
 * caches, mocks, proxies, interceptors (about 110 CommonJS modules, 1.3 MB of
 * source), which took about 100 ms of CPU time in every process that built a
 * client; these four load about 30 modules (`bench/startup.ts --imports`).
 * Effect's `NodeHttpClient.makeDispatcherOptions` builds its `Agent` from the
 * root, so `transport.ts` builds its own the same way.
 *
 * **Gotchas**
 *
 * - The paths are inside undici's `lib/`, which undici does not publish as
 *   an interface (its package has no `exports` map, so Node allows them). The
 *   version is pinned; `test/undiciParts.test.ts` checks that each piece is
 *   the one undici's root exports, so an upgrade that moves one fails there.
 * - `request` is undici's `Dispatcher#request`, which undici's root adds to
 *   `Dispatcher.prototype` when it loads: a dispatcher built from these
 *   modules has no `request` method unless something loaded the root, so call
 *   it as `request.call(dispatcher, options)`.
 */
import { createRequire } from "node:module"
import type * as Undici from "undici"

/** What the transport takes from undici. */
export interface UndiciParts {
  readonly Agent: typeof Undici.Agent
  readonly Pool: typeof Undici.Pool
  readonly Client: typeof Undici.Client
  /** undici's `Dispatcher#request`, with the dispatcher as `this`. */
  readonly request: (
    this: Undici.Dispatcher,
    options: Undici.Dispatcher.RequestOptions
  ) => Promise<Undici.Dispatcher.ResponseData>
}

/** Where each piece is, inside the `undici` package. */
export const paths = {
  Agent: "undici/lib/dispatcher/agent.js",
  Pool: "undici/lib/dispatcher/pool.js",
  Client: "undici/lib/dispatcher/client.js",
  request: "undici/lib/api/api-request.js"
} as const

let loaded: UndiciParts | undefined

/** The pieces, loaded on the first call (synchronously: they are CommonJS). */
export const load = (): UndiciParts => {
  if (loaded === undefined) {
    const require = createRequire(import.meta.url)
    loaded = {
      Agent: require(paths.Agent) as UndiciParts["Agent"],
      Pool: require(paths.Pool) as UndiciParts["Pool"],
      Client: require(paths.Client) as UndiciParts["Client"],
      request: require(paths.request) as UndiciParts["request"]
    }
  }
  return loaded
}
