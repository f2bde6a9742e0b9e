/**
 * What a process loads to make its first call, which every script, worker
 * and CLI pays on each start (`bench/startup.ts` times it): undici's four
 * pieces come from their own modules (`internal/undiciParts.ts`), not
 * undici's root, and the Public Suffix List (`tldts`) loads with a cookie
 * jar, not with the client. Each case runs in a child process of its own,
 * since this worker has loaded both already.
 */
import { assert, describe, it } from "@effect/vitest"
import { NodeChild, TestServer } from "@httpkit/testing"
import { Effect } from "effect"
import { join } from "node:path"
import * as Undici from "undici"
import * as UndiciParts from "../src/internal/undiciParts.ts"

interface ChildResult {
  readonly status: number
  readonly cookies: ReadonlyArray<string>
  readonly undiciRoot: boolean
  readonly undiciAgent: boolean
  readonly tldts: boolean
}

const runChild = (url: string, mode: "plain" | "cookies") =>
  Effect.promise(async () => {
    const run = await NodeChild.run([join(import.meta.dirname, "startup-child.ts"), url, mode], {
      timeoutMillis: 60_000
    })
    const line = run.stdout.trim().split("\n").at(-1) ?? ""
    assert.isTrue(run.code === 0 && line.startsWith("{"), `the child failed (status ${run.code}): ${run.output}`)
    return JSON.parse(line) as ChildResult
  })

describe("start-up", () => {
  it("undici's pieces loaded by path are the ones undici's root exports (an upgrade that moves one fails here)", () => {
    const parts = UndiciParts.load()
    assert.strictEqual(parts.Agent, Undici.Agent)
    assert.strictEqual(parts.Pool, Undici.Pool)
    assert.strictEqual(parts.Client, Undici.Client)
    assert.strictEqual(typeof parts.kQueuedAbort, "symbol")
  })

  it.live("a GET loads undici's agent but neither undici's root nor tldts", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const result = yield* runChild(`${server.url}/status/200`, "plain")
      assert.deepStrictEqual(result, { status: 200, cookies: [], undiciRoot: false, undiciAgent: true, tldts: false })
      assert.strictEqual((yield* server.requests).length, 1)
    }).pipe(Effect.scoped), { timeout: 90_000 })

  it.live(
    "a client with a cookie jar loads tldts (with the jar), and the jar holds the Set-Cookie",
    () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make()
        // A host name: an IP address has no registrable domain to look up, so it would need no suffix list.
        const result = yield* runChild(
          `${server.url.replace("127.0.0.1", "localhost")}/cookies/set?session=abc`,
          "cookies"
        )
        assert.deepStrictEqual(result, {
          status: 200,
          cookies: ["session"],
          undiciRoot: false,
          undiciAgent: true,
          tldts: true
        })
      }).pipe(Effect.scoped),
    { timeout: 90_000 }
  )
})
