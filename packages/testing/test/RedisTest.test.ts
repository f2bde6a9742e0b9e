import { assert, describe, it } from "@effect/vitest"
import * as Net from "node:net"
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

await RedisTest.describeWithRedis("the real Redis at REDIS_URL", () => {
  it("answers PING", async () => {
    assert.deepStrictEqual(await RedisTest.probe(), { reachable: true })
  })
})
