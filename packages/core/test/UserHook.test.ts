/**
 * `UserHook`: a user function that should return an `Effect` and returns
 * something else. The first test pins Effect 4.1's trap (a fiber that runs a
 * value that is not an effect ends past `catchCause`); if an upgrade fixes
 * it, that test fails and tells us. The others show what `UserHook` makes of
 * each bad return, and that a good one is untouched.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit } from "effect"
import * as UserHook from "../src/UserHook.ts"

/** What a misbehaving hook returns, and how `HookReturnError.received` describes it. */
const bad = [
  ["undefined", undefined, "undefined"],
  ["a number", 42, "a number"],
  ["null", null, "null"],
  ["a string", "done", "a string"],
  ["a function", () => Effect.void, "a function"],
  ["a Promise", Promise.resolve(1), "a Promise (an async function?)"],
  ["a plain object", { ok: true }, "an object"]
] as const

/** An `async` hook that throws: a rejected Promise where an effect was expected. */
const asyncHook = async (): Promise<void> => {
  throw new Error("inside the async hook")
}

/** What `catchCause` around `effect` saw: its squashed cause, or "not caught" when the fiber ended past it. */
const caught = (effect: Effect.Effect<unknown, unknown>) =>
  Effect.exit(
    Effect.catchCause(Effect.as(effect, "no failure" as unknown), (cause) => Effect.succeed(Cause.squash(cause)))
  )

describe("UserHook", () => {
  it.effect("Effect's trap: catchCause does not see a suspend that returns undefined, 42 or a Promise", () =>
    Effect.gen(function*() {
      for (const value of [undefined, 42, Promise.resolve()]) {
        const exit = yield* Effect.promise(() => Effect.runPromiseExit(caught(Effect.suspend(() => value as never))))
        assert.isTrue(Exit.isFailure(exit), String(value))
        assert.include(String(exit), "Not a valid effect", String(value))
      }
    }))

  for (const [name, value, described] of bad) {
    it.effect(`call: a hook returning ${name} is a defect HookReturnError ("${described}") that catchCause sees`, () =>
      Effect.gen(function*() {
        const exit = yield* caught(UserHook.call("onStart", () => value as never))
        assert.isTrue(Exit.isSuccess(exit))
        const error = (exit as Exit.Success<unknown>).value
        assert.instanceOf(error, UserHook.HookReturnError)
        const hookError = error as UserHook.HookReturnError
        assert.strictEqual(hookError._tag, "HookReturnError")
        assert.strictEqual(hookError.hook, "onStart")
        assert.strictEqual(hookError.received, described)
        assert.strictEqual(hookError.message, `onStart returned ${described} where an Effect was expected`)
      }))
  }

  it.effect("call: a throw is a defect holding what was thrown; a hook that is not a function is a defect too", () =>
    Effect.gen(function*() {
      const thrown = new TypeError("boom")
      const exit = yield* caught(UserHook.call("onStart", () => {
        throw thrown
      }))
      assert.strictEqual((exit as Exit.Success<unknown>).value, thrown)
      const notAFunction = yield* caught(UserHook.call("onStart", 42 as never))
      assert.instanceOf((notAFunction as Exit.Success<unknown>).value, TypeError)
    }))

  it.effect("call: a hook's own effect runs as it is, its value, failure and arguments untouched", () =>
    Effect.gen(function*() {
      const seen: Array<unknown> = []
      const value = yield* UserHook.call("hook", (a: number, b: string) => Effect.sync(() => seen.push(a, b)), 1, "x")
      assert.strictEqual(value, 2)
      assert.deepStrictEqual(seen, [1, "x"])
      const failure = yield* Effect.flip(UserHook.call("hook", () => Effect.fail("typed")))
      assert.strictEqual(failure, "typed")
      // Called when the effect runs, not when it is built, and each time it runs.
      let calls = 0
      const guarded = UserHook.guard("hook", () => Effect.sync(() => ++calls))
      const effect = guarded()
      assert.strictEqual(calls, 0)
      yield* effect
      yield* effect
      assert.strictEqual(calls, 2)
    }))

  it.effect("fromValue: an effect is returned as it is; anything else is a defect HookReturnError", () =>
    Effect.gen(function*() {
      const effect = Effect.succeed(1)
      assert.strictEqual(UserHook.fromValue("onUnauthorized", effect), effect)
      const exit = yield* caught(UserHook.fromValue("onUnauthorized", (() => effect) as never))
      assert.strictEqual(((exit as Exit.Success<unknown>).value as UserHook.HookReturnError).received, "a function")
    }))

  it.live("an async hook that rejects is a defect here, never an unhandled rejection", () =>
    Effect.gen(function*() {
      const unhandled: Array<unknown> = []
      const onUnhandled = (reason: unknown) => unhandled.push(reason)
      process.on("unhandledRejection", onUnhandled)
      yield* Effect.addFinalizer(() => Effect.sync(() => process.off("unhandledRejection", onUnhandled)))
      const exit = yield* caught(UserHook.call("onSuccess", asyncHook as never))
      assert.strictEqual(
        ((exit as Exit.Success<unknown>).value as UserHook.HookReturnError).received,
        "a Promise (an async function?)"
      )
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 50)))
      assert.deepStrictEqual(unhandled, [])
    }).pipe(Effect.scoped))

  it("describe never shows a value's content; isThenable knows a thenable", () => {
    assert.strictEqual(UserHook.describe("s3cr3t"), "a string")
    assert.strictEqual(UserHook.describe({ token: "s3cr3t" }), "an object")
    assert.strictEqual(UserHook.describe([1]), "an array")
    assert.strictEqual(UserHook.describe(1n), "a bigint")
    assert.isTrue(UserHook.isThenable(Promise.resolve()))
    assert.isFalse(UserHook.isThenable(Effect.void))
    assert.isFalse(UserHook.isThenable({ ok: true }))
    assert.isFalse(UserHook.isThenable(null))
  })
})
