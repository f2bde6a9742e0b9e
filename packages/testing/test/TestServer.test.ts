import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as TestServer from "../src/TestServer.ts"

layer(TestServer.layer())("TestServer basics", (it) => {
  it.effect("GET /health answers ok", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const response = yield* Effect.promise(() => fetch(server.urlFor("/health")))
      assert.strictEqual(response.status, 200)
      assert.deepStrictEqual(yield* Effect.promise(() => response.json()), { status: "ok" })
    }))
})
