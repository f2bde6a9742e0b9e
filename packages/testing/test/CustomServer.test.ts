import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as CustomServer from "../src/CustomServer.ts"

describe("CustomServer", () => {
  it.live("serves the handler on loopback; closing the scope ends a request still waiting for its answer", () =>
    Effect.gen(function*() {
      let connections = 0
      let holding!: () => void
      const arrived = new Promise<void>((resolve) => (holding = resolve))
      const held = yield* Effect.scoped(Effect.gen(function*() {
        const server = yield* CustomServer.make((request, response) => {
          if (request.url === "/hold") return holding()
          response.end(`${request.method} ${request.url}`)
        }, (server) => server.on("connection", () => connections++))
        assert.strictEqual(server.url, `http://127.0.0.1:${server.port}`)
        const answer = yield* Effect.promise(() => fetch(`${server.url}/hello`).then((response) => response.text()))
        assert.strictEqual(answer, "GET /hello")
        const answered = fetch(`${server.url}/hold`).then(() => "answered", () => "cut")
        yield* Effect.promise(() => arrived)
        return answered
      }))
      assert.strictEqual(yield* Effect.promise(() => held), "cut")
      assert.isAtLeast(connections, 1)
    }))
})
