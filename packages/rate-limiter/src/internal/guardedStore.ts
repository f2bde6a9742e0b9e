/**
 * A `LimiterStore` as the limiter calls it: the store may be the user's own
 * implementation, so each method whose result is run as an effect goes
 * through `UserHook`. A throw, or a return that is not an effect
 * (`undefined`, a Promise from an `async` method), is a defect of the
 * acquisition (`HookReturnError` naming the method) that the limiter's
 * handlers and finalizers see (a slot taken is given back, the caller's
 * `catchCause` hears of it), where Effect 4.1 would end the fiber past all
 * of them ("Not a valid effect").
 *
 * Methods are called on the store, so a class-based store keeps its `this`;
 * `backend` and `selfBounded` are copied as the store's own values. The
 * package's own stores (memory, local, Redis) are marked `trusted` and used
 * as they are: the guard's closure and suspend cost the memory store's
 * `withPermit` about 1 µs (7-8 µs in all; `npm run bench -- rate-limiter`).
 */
import * as UserHook from "@httpkit/core/UserHook"
import type * as LimiterStore from "../LimiterStore.ts"
import * as Own from "./own.ts"

/** The stores this package made, whose methods always return effects. */
const known = new WeakSet<LimiterStore.Store>()

/** Marks `store`, one of this package's own, as needing no guard; returns it. */
export const trusted = (store: LimiterStore.Store): LimiterStore.Store => {
  known.add(store)
  return store
}

/** `store`, its methods guarded; one of this package's own stores as it is. */
export const make = (store: LimiterStore.Store): LimiterStore.Store => {
  if (known.has(store)) return store
  const cancel = Own.get(store, "cancel")
  return {
    backend: store.backend,
    selfBounded: Own.get(store, "selfBounded") === true,
    reserve: (request) => UserHook.call("LimiterStore.reserve", () => store.reserve(request)),
    ...(cancel === undefined ? {} : {
      cancel: (request: LimiterStore.CancelRequest) =>
        UserHook.call("LimiterStore.cancel", () => cancel.call(store, request))
    }),
    block: (key, millis) => UserHook.call("LimiterStore.block", () => store.block(key, millis)),
    lease: (request) => UserHook.call("LimiterStore.lease", () => store.lease(request)),
    release: (id, token) => UserHook.call("LimiterStore.release", () => store.release(id, token))
  }
}
