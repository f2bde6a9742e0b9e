/**
 * The client's user-supplied effects and plug-ins when they return something
 * other than an effect (`undefined` from a JavaScript caller or an `as any`,
 * a number, the Promise of an `async` method). Effect 4.1 ends a fiber that
 * runs such a value past every handler and finalizer; now:
 *
 * - `Auth`'s `onUnauthorized` that is no effect fails the constructor with
 *   `AuthConfigError` (`invalid-refresh-hook`);
 * - a plug-in method (`RateLimit.around`, `RateLimit.observe`,
 *   `ClientCookies.cookieHeader`, `ClientCookies.store`, `ClientAuth.refresh`)
 *   that returns no effect is a defect of the call, `HookReturnError` naming
 *   the method, that the caller's `catchCause` sees, and the call's bulkhead
 *   slot is given back (the next call goes through).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Auth from "@httpkit/client/Auth"
import * as CookieJar from "@httpkit/client/CookieJar"
import * as RateLimitHook from "@httpkit/client/RateLimitHook"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import * as UserHook from "@httpkit/core/UserHook"
import { TestServer } from "@httpkit/testing"
import { Cause, Effect, Exit, Redacted } from "effect"

/** What a misbehaving method returns, and how `HookReturnError.received` describes it. */
const returns = [
  { name: "undefined", value: (): unknown => undefined, described: "undefined" },
  { name: "a number", value: (): unknown => 42, described: "a number" },
  { name: "a Promise", value: (): unknown => Promise.resolve(), described: "a Promise (an async function?)" }
] as const

/** Far above a call to the local server on a loaded machine: a call that hangs fails the test here. */
const bounded = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.timeoutOrElse(effect, {
    duration: "30 seconds",
    orElse: () => Effect.die(new Error("the call did not end within 30 s"))
  })

/** What the caller's `catchCause` around `effect` saw: the squashed cause, or `"ok"`. */
const seenByCatchCause = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  bounded(Effect.catchCause(Effect.as(effect, "ok" as unknown), (cause) => Effect.succeed(Cause.squash(cause))))

/** Asserts `seen` is the `HookReturnError` of `hook` for `described`. */
const assertHookError = (seen: unknown, hook: string, described: string) => {
  assert.instanceOf(seen, UserHook.HookReturnError, String(seen))
  const error = seen as UserHook.HookReturnError
  assert.strictEqual(error.hook, hook)
  assert.strictEqual(error.received, described)
}

/** A client with a bulkhead of one slot: a slot not given back makes the next call fail with BulkheadFullError. */
const oneSlot = { retry: { maxAttempts: 1 }, bulkhead: { maxConcurrency: 1, acquireTimeout: 2_000 } } as const

describe("Auth: an onUnauthorized that is not an Effect", () => {
  for (
    const [name, value, described] of [
      ["a function returning an effect", () => Effect.succeed("t"), "a function"],
      ["a Promise", Promise.resolve("t"), "a Promise (an async function?)"],
      ["a number", 42, "a number"]
    ] as const
  ) {
    it.effect(`${name} fails the constructor with AuthConfigError invalid-refresh-hook, naming onUnauthorized`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(Auth.bearer("token-1", { onUnauthorized: value as never }))
        assert.strictEqual(error._tag, "AuthConfigError")
        assert.strictEqual(error.reason, "invalid-refresh-hook")
        assert.strictEqual(error.problems[0]!.setting, "onUnauthorized")
        assert.strictEqual(error.problems[0]!.received, described)
        assert.include(error.message, "onUnauthorized")
        const other = yield* Effect.flip(Auth.apiKey("x-api-key", "key-1", { onUnauthorized: value as never }))
        assert.strictEqual(other.reason, "invalid-refresh-hook")
      }))
  }

  it.effect("an Effect is taken as before", () =>
    Effect.gen(function*() {
      const auth = yield* Auth.bearer("token-1", { onUnauthorized: Effect.succeed(Redacted.make("token-2")) })
      assert.isTrue(yield* auth.refresh(0))
    }))
})

describe("plug-ins whose methods return no effect", () => {
  for (const bad of returns) {
    it.live(`RateLimit.around returning ${bad.name}: the call dies with HookReturnError that catchCause sees; its bulkhead slot is given back`, () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make()
        let broken = true
        const hook: RateLimitHook.RateLimitHook = {
          around: (_request, attempt) => broken ? bad.value() as never : attempt
        }
        const client = yield* ResilientClient.make(oneSlot).pipe(
          Effect.provideService(RateLimitHook.RateLimit, hook)
        )
        assertHookError(
          yield* seenByCatchCause(client.get(server.urlFor("/status/200"))),
          "RateLimit.around",
          bad.described
        )
        broken = false
        const response = yield* bounded(client.get(server.urlFor("/status/200")))
        assert.strictEqual(response.status, 200)
      }).pipe(Effect.scoped))

    it.live(`RateLimit.observe returning ${bad.name}: the call dies with HookReturnError that catchCause sees`, () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make()
        const hook: RateLimitHook.RateLimitHook = {
          around: (_request, attempt) => attempt,
          observe: () => bad.value() as never
        }
        const client = yield* ResilientClient.make(oneSlot).pipe(
          Effect.provideService(RateLimitHook.RateLimit, hook)
        )
        assertHookError(
          yield* seenByCatchCause(client.get(server.urlFor("/status/200"))),
          "RateLimit.observe",
          bad.described
        )
        assertHookError(
          yield* seenByCatchCause(client.get(server.urlFor("/status/200"))),
          "RateLimit.observe",
          bad.described
        )
      }).pipe(Effect.scoped))

    it.live(`ClientCookies.cookieHeader and store returning ${bad.name}: each a HookReturnError that catchCause sees`, () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make()
        const jar = yield* CookieJar.makeMemory()
        const headerBroken = { ...jar, cookieHeader: () => bad.value() as never }
        const storeBroken = { ...jar, store: () => bad.value() as never }
        const first = yield* ResilientClient.make(oneSlot).pipe(
          Effect.provideService(CookieJar.ClientCookies, headerBroken)
        )
        assertHookError(
          yield* seenByCatchCause(first.get(server.urlFor("/status/200"))),
          "ClientCookies.cookieHeader",
          bad.described
        )
        const second = yield* ResilientClient.make(oneSlot).pipe(
          Effect.provideService(CookieJar.ClientCookies, storeBroken)
        )
        assertHookError(
          yield* seenByCatchCause(second.get(server.urlFor("/cookies/set?session=abc"))),
          "ClientCookies.store",
          bad.described
        )
      }).pipe(Effect.scoped))

    it.live(`ClientAuth.refresh returning ${bad.name} after a 401: the call dies with HookReturnError that catchCause sees`, () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make()
        const auth = yield* Auth.bearer("token-1")
        const broken: Auth.Auth = { ...auth, refresh: () => bad.value() as never }
        const client = yield* ResilientClient.make(oneSlot).pipe(Effect.provideService(Auth.ClientAuth, broken))
        assertHookError(
          yield* seenByCatchCause(client.get(server.urlFor("/status/401"))),
          "ClientAuth.refresh",
          bad.described
        )
        const exit = yield* Effect.exit(bounded(client.get(server.urlFor("/status/200"))))
        assert.isTrue(Exit.isSuccess(exit), String(exit))
      }).pipe(Effect.scoped))
  }
})
