/**
 * Runs every command of the examples table of `packages/rate-limiter/README.md`
 * exactly as written there: `npm run example -- <name> [flags]`, which npm
 * runs as the root `package.json`'s `example` script,
 * `node scripts/bootstrap.mjs example`, followed by the flags
 * (`test/commandLines.test.ts` of `@httpkit/testing` checks that script).
 * Each starts its embedded fault-injection server and must show that the
 * server refused none of its requests; a README row without an expected line
 * here, or an expected line whose row is gone, fails. Then the crawler's
 * other outcomes: an unreachable Redis is said as such, never as a limit
 * that did not hold.
 */
import { assert, it } from "@effect/vitest"
import * as DocumentedCommands from "@httpkit/testing/DocumentedCommands"
import * as NodeChild from "@httpkit/testing/NodeChild"
import * as Ports from "@httpkit/testing/Ports"
import * as RedisProxy from "@httpkit/testing/RedisProxy"
import * as RedisTest from "@httpkit/testing/RedisTest"
import { Effect } from "effect"
import { join } from "node:path"

const root = join(import.meta.dirname, "..", "..", "..")

const example = "npm run example -- "

/** The `npm run example -- ...` commands in the first column of the README's tables. */
const commands = DocumentedCommands.inFile(join(root, "packages/rate-limiter/README.md"), example)

/** Runs a documented command as npm does, with `REDIS_URL` the tests' Redis, killed after 60 s. */
const runDocumented = (command: string) =>
  NodeChild.run(["scripts/bootstrap.mjs", "example", ...DocumentedCommands.argumentsOf(command, example)], {
    cwd: root,
    env: { REDIS_URL: RedisTest.url },
    timeoutMillis: 60_000
  })

/** Each command, whether it needs Redis, and the lines that prove its point. */
const expected: Readonly<Record<string, { readonly redis: boolean; readonly lines: ReadonlyArray<RegExp> }>> = {
  "npm run example -- rate-limit-memory": {
    redis: false,
    lines: [/^fetched 60 pages with 30 fibers/m, /^the server admitted 60 and refused 0$/m]
  },
  "npm run example -- rate-limit-crawler": {
    redis: true,
    lines: [/^worker 3: fetched 20, failed 0$/m, /^the server admitted 80 and refused 0$/m]
  }
}

it("every documented command has its expected lines, and every expected line its command", () => {
  assert.deepStrictEqual(commands.toSorted(), Object.keys(expected).toSorted())
})

const assertDocumented = async (command: string) => {
  const run = await runDocumented(command)
  assert.strictEqual(run.code, 0, run.output)
  for (const line of expected[command]!.lines) assert.match(run.output, line, run.output)
}

for (const command of commands.filter((command) => expected[command]?.redis === false)) {
  it(`${command}: none refused by the server`, () => assertDocumented(command), 70_000)
}

it("rate-limit-crawler, Redis on a closed port: one line, Redis was unreachable at its URL, exit 1", async () => {
  const port = await Ports.unusedPromise()
  const run = await NodeChild.run(["examples/rate-limit-crawler.ts", "--redis", `redis://:s3cret@127.0.0.1:${port}`], {
    cwd: root,
    timeoutMillis: 30_000
  })
  assert.strictEqual(run.code, 1, run.output)
  assert.strictEqual(run.stderr, `Redis was unreachable at redis://REDACTED@127.0.0.1:${port} (ECONNREFUSED)\n`)
  assert.notInclude(run.output, "s3cret")
  assert.notInclude(run.output, "did not hold")
}, 40_000)

it("rate-limit-crawler, a --redis that is not a URL: a bad flag, one line, exit 2", async () => {
  const run = await NodeChild.run(["examples/rate-limit-crawler.ts", "--redis", "redis://[bad"], { cwd: root })
  assert.strictEqual(run.code, 2, run.output)
  assert.strictEqual(
    run.stderr,
    "--redis must be a redis:// or rediss:// URL such as redis://127.0.0.1:6379; it does not parse\n",
    run.output
  )
})

it("rate-limit-memory, the test server down: one line naming --url, exit 1", async () => {
  const port = await Ports.unusedPromise()
  const run = await NodeChild.run(["examples/rate-limit-memory.ts", "--url", `http://127.0.0.1:${port}`], {
    cwd: root,
    timeoutMillis: 30_000
  })
  assert.strictEqual(run.code, 1, run.output)
  assert.strictEqual(
    run.stderr,
    `the test server was unreachable at http://127.0.0.1:${port} (ECONNREFUSED); start it with npm run test-server\n`
  )
}, 40_000)

await RedisTest.describeWithRedis("the Redis crawler example", () => {
  it(
    "rate-limit-crawler, the test server down: one line naming --url, not a limit that did not hold, exit 1",
    async () => {
      const port = await Ports.unusedPromise()
      const run = await NodeChild.run(
        ["examples/rate-limit-crawler.ts", "--redis", RedisTest.url, "--url", `http://127.0.0.1:${port}`],
        { cwd: root, timeoutMillis: 30_000 }
      )
      assert.strictEqual(run.code, 1, run.output)
      assert.strictEqual(
        run.stderr,
        `the test server was unreachable at http://127.0.0.1:${port} (ECONNREFUSED); start it with npm run test-server\n`
      )
      assert.notInclude(run.output, "did not hold")
    },
    40_000
  )

  for (const command of commands.filter((command) => expected[command]?.redis === true)) {
    it(`${command}: four processes, 80 pages, none refused by the server`, () => assertDocumented(command), 70_000)
  }

  it.live(
    "rate-limit-crawler, Redis reachable but answering garbage: Redis was unreachable during the crawl, not a limit that did not hold",
    () =>
      Effect.gen(function*() {
        const proxy = yield* RedisProxy.make()
        yield* proxy.start
        yield* proxy.garbage
        const run = yield* Effect.promise(() =>
          NodeChild.run(["examples/rate-limit-crawler.ts", "--redis", proxy.url], { cwd: root, timeoutMillis: 60_000 })
        )
        assert.strictEqual(run.code, 1, run.output)
        assert.match(
          run.stderr,
          /^Redis was unreachable at redis:\/\/127\.0\.0\.1:\d+\/?\S* during the crawl: 4 of 4 workers had requests fail with RateLimiterUnavailableError\n$/,
          run.output
        )
        assert.notInclude(run.output, "did not hold")
      }).pipe(Effect.scoped),
    70_000
  )

  it(
    "rate-limit-crawler, a Redis that refuses the credentials (a user its ACL does not know): one line, authentication failed, not unreachable, exit 1",
    async () => {
      const url = new URL(RedisTest.url)
      url.username = "httpkit-nobody"
      url.password = "s3cret"
      const run = await NodeChild.run(["examples/rate-limit-crawler.ts", "--redis", url.href], {
        cwd: root,
        timeoutMillis: 60_000
      })
      assert.strictEqual(run.code, 1, run.output)
      const prefix = `Redis refused the credentials at redis://REDACTED@${url.host}`
      assert.isTrue(run.stderr.startsWith(prefix), run.output)
      assert.match(run.stderr.slice(prefix.length), /^\/?: authentication failed \(WRONGPASS [^\n]*\)\n$/, run.output)
      assert.notInclude(run.output, "s3cret")
      assert.notInclude(run.output, "unreachable")
    },
    70_000
  )
})
