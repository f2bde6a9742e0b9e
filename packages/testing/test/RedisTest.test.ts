import { assert, describe, it } from "@effect/vitest"
import * as Net from "node:net"
import * as Path from "node:path"
import * as NodeChild from "../src/NodeChild.ts"
import * as Ports from "../src/Ports.ts"
import * as RedisTest from "../src/RedisTest.ts"

describe("RedisTest", () => {
  it("reports a closed port as unreachable with the reason", async () => {
    const port = await Ports.unusedPromise()
    const result = await RedisTest.probe(`redis://127.0.0.1:${port}`)
    assert.strictEqual(result.reachable, false)
    if (!result.reachable) assert.match(result.reason, /ECONNREFUSED/)
  })

  it("skips outside CI and fails in CI when Redis is unreachable, without leaking the password", () => {
    const down = { reachable: false, reason: "connect ECONNREFUSED" } as const
    const skip = RedisTest.decide(down, false, "redis://user:hunter2@10.0.0.1:6379")
    assert.strictEqual(skip._tag, "Skip")
    const fail = RedisTest.decide(down, true, "redis://user:hunter2@10.0.0.1:6379")
    assert.strictEqual(fail._tag, "Fail")
    for (const decision of [skip, fail]) {
      if (decision._tag !== "Run") {
        assert.notInclude(decision.reason, "hunter2")
        assert.include(decision.reason, "ECONNREFUSED")
      }
    }
    assert.deepStrictEqual(RedisTest.decide({ reachable: true }, true), { _tag: "Run" })
  })

  it("answers when a server speaks the Redis protocol", async () => {
    const fake = Net.createServer((socket) => socket.on("data", () => socket.write("+PONG\r\n")))
    await new Promise<void>((resolve) => fake.listen(0, "127.0.0.1", resolve))
    const port = (fake.address() as Net.AddressInfo).port
    try {
      assert.deepStrictEqual(await RedisTest.probe(`redis://127.0.0.1:${port}`), { reachable: true })
    } finally {
      await new Promise<void>((resolve) => fake.close(() => resolve()))
    }
  })
})

/** Runs one fixture of `fixtures/redis-await` in a vitest of its own, with Redis on a closed port and outside CI. */
const runFixture = async (file: string) => {
  const folder = Path.join(import.meta.dirname, "fixtures", "redis-await")
  const vitest = Path.join(import.meta.dirname, "..", "node_modules", "vitest", "vitest.mjs")
  const port = await Ports.unusedPromise()
  return NodeChild.run([vitest, "run", "--root", folder, "--color=false", "--reporter=verbose", file], {
    cwd: folder,
    env: { REDIS_URL: `redis://127.0.0.1:${port}`, NO_COLOR: "1" },
    dropEnv: ["CI", "VITEST*"],
    timeoutMillis: 50_000
  })
}

describe("RedisTest.describeWithRedis in a user's vitest run", () => {
  it("awaited, as the README writes it: the block is declared, here skipped with the reason in its name", async () => {
    const run = await runFixture("awaited.fixture.ts")
    assert.strictEqual(run.code, 0, run.output)
    assert.match(run.output, /needs redis \[skipped: Redis unreachable at redis:\/\/127\.0\.0\.1:\d+/)
    assert.match(run.output, /1 passed \| 1 skipped/)
  }, 60_000)

  it(
    "not awaited: the run fails with an error saying to await it, instead of dropping the block silently",
    async () => {
      const run = await runFixture("forgotten.fixture.ts")
      assert.strictEqual(run.code, 1, run.output)
      assert.include(run.output, `RedisTest.describeWithRedis("needs redis", ...) was not awaited`)
    },
    60_000
  )
})

await RedisTest.describeWithRedis("the real Redis at REDIS_URL", () => {
  it("answers PING", async () => {
    assert.deepStrictEqual(await RedisTest.probe(), { reachable: true })
  })
})
