/**
 * The client's plug-ins (`ClientAuth`, `ClientCookies`, `BrowserProfiles`,
 * `RateLimit`) as the pipeline calls them: any of them may be the user's own
 * implementation, so each function whose result the pipeline runs as an
 * effect goes through `UserHook`. A throw, or a return that is not an effect
 * (`undefined`, a Promise from an `async` method), is a defect of the call
 * (`HookReturnError` naming the method) that the pipeline's handlers and
 * finalizers see: bulkhead and limiter slots are released, the breaker and
 * the caller's `catchCause` hear of it. Unguarded, Effect 4.1 ends the
 * call's fiber past all of them ("Not a valid effect").
 *
 * Methods are called on their object, so a class-based plug-in keeps its `this`.
 */
import * as UserHook from "@httpkit/core/UserHook"
import type * as Effect from "effect/Effect"
import type { RateLimitHook } from "../RateLimitHook.ts"
import type { AuthHook, CookieHook, ProfileHook } from "./env.ts"

/** `auth`, its `refresh` and `current` guarded (`current` read at each attempt, as the pipeline reads it). */
export const auth = (plugin: AuthHook): AuthHook => ({
  get current() {
    return UserHook.fromValue("ClientAuth.current", plugin.current)
  },
  refresh: (generation) => UserHook.call("ClientAuth.refresh", () => plugin.refresh(generation)),
  get secretHeaderNames() {
    return plugin.secretHeaderNames
  }
})

/** `cookies`, its `cookieHeader` and `store` guarded. */
export const cookies = (plugin: CookieHook): CookieHook => ({
  cookieHeader: (url) => UserHook.call("ClientCookies.cookieHeader", () => plugin.cookieHeader(url)),
  store: (url, setCookie) => UserHook.call("ClientCookies.store", () => plugin.store(url, setCookie))
})

/** `profiles`, its `next` guarded (read once per call). */
export const profiles = (plugin: ProfileHook): ProfileHook => ({
  get next() {
    return UserHook.fromValue("BrowserProfiles.next", plugin.next)
  }
})

/** `limiter`, its `around` and `observe` guarded. */
export const rateLimit = (limiter: RateLimitHook): RateLimitHook => {
  const observe = limiter.observe
  return {
    around: <A, E, R>(request: Parameters<RateLimitHook["around"]>[0], attempt: Effect.Effect<A, E, R>) =>
      UserHook.call("RateLimit.around", () => limiter.around(request, attempt)),
    ...(observe === undefined ? {} : {
      observe: (request, response) => UserHook.call("RateLimit.observe", () => observe.call(limiter, request, response))
    })
  }
}
