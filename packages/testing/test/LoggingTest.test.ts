import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import * as LoggingTest from "../src/LoggingTest.ts"

describe("LoggingTest", () => {
  it.effect("withLines keeps every message, a forked fiber's too, and gives each run a list of its own", () =>
    Effect.gen(function*() {
      const logged = LoggingTest.withLines((lines) =>
        Effect.gen(function*() {
          yield* Effect.logInfo("first", 2)
          yield* Fiber.join(yield* Effect.forkChild(Effect.logWarning("from a fiber")))
          return [...lines]
        })
      )
      assert.deepStrictEqual(yield* logged, ["first 2", "from a fiber"])
      assert.deepStrictEqual(yield* logged, ["first 2", "from a fiber"])
    }))

  it.effect("the logfmt format keeps Effect's whole line: level and annotations", () =>
    Effect.gen(function*() {
      const lines = yield* LoggingTest.withLines(
        (lines) => Effect.as(Effect.logWarning("slow").pipe(Effect.annotateLogs("store", "redis")), lines),
        "logfmt"
      )
      assert.lengthOf(lines, 1)
      assert.match(lines[0]!, /level=WARN/)
      assert.match(lines[0]!, /message=slow/)
      assert.match(lines[0]!, /store=redis/)
    }))
})
