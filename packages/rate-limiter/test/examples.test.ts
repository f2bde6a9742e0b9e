/**
 * Runs the rate-limit examples under `examples/` as real child processes
 * (`node examples/<file>`, from the repository root), each with its embedded
 * fault-injection server, and checks that the server refused none of their
 * requests.
 */
import { assert, it } from "@effect/vitest"
import * as NodeChild from "@httpkit/testing/NodeChild"
import * as RedisTest from "@httpkit/testing/RedisTest"
import { join } from "node:path"

const root = join(import.meta.dirname, "..", "..", "..")

/** Runs `node examples/<file>` from the repository root, killed after 60 s. */
const runExample = (file: string) =>
  NodeChild.run([join("examples", file)], { cwd: root, env: { REDIS_URL: RedisTest.url }, timeoutMillis: 60_000 })

it("node examples/rate-limit-memory.ts: 60 pages, none refused by the server", async () => {
  const run = await runExample("rate-limit-memory.ts")
  assert.strictEqual(run.code, 0, run.output)
  assert.match(run.output, /^fetched 60 pages with 30 fibers/m, run.output)
  assert.match(run.output, /^the server admitted 60 and refused 0$/m, run.output)
}, 70_000)

await RedisTest.describeWithRedis("the Redis crawler example", () => {
  it("node examples/rate-limit-crawler.ts: four processes, 80 pages, none refused by the server", async () => {
    const run = await runExample("rate-limit-crawler.ts")
    assert.strictEqual(run.code, 0, run.output)
    assert.match(run.output, /^worker 3: fetched 20, failed 0$/m, run.output)
    assert.match(run.output, /^the server admitted 80 and refused 0$/m, run.output)
  }, 70_000)
})
