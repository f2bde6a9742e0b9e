/**
 * RELIABILITY 10 for the limiter: every options object it reads, it reads by
 * own keys, and what it hands to Redis, Node and Effect holds exactly the keys
 * meant. For each name the limiter reads (and each option node-redis, Node's
 * `net` and `node:sqlite` would read from what the limiter hands them),
 * `Object.prototype[name]` is set to a hostile value while the limiter is
 * built and used as a user would: on the memory store (`TestClock`), on the
 * real Redis, on the local SQLite store, with `ServerFeedback` and the client
 * hook. Everything seen must match a clean run: the same limits, outcomes,
 * errors, policies, Redis keys under the same prefix, the same file.
 *
 * Polluting the prototype inside the test runner would reach vitest and
 * Effect's own machinery, so the polluted runs happen in a child process
 * (`support/pollutedLimiter.ts`) that prints what it saw as JSON, and each
 * pollution is deleted in a `finally` there.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeChild from "@httpkit/testing/NodeChild"
import * as RedisTest from "@httpkit/testing/RedisTest"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const here = Path.dirname(fileURLToPath(import.meta.url))

/** A name polluted, the value it is given, and what is left out of the comparison (with why). */
interface Case {
  readonly name: string
  readonly value: unknown
  /** Node's own sockets break under this name, whoever reads it (pinned below). */
  readonly skipRedis?: true
}

/**
 * Every option name the limiter reads, with a value that would change what
 * it does if it were read: `RateLimiter` options, acquire and observe options,
 * `Policy` constructors and policy fields, `RedisStore`, `LocalStore` and
 * memory store options, a store's `selfBounded`, store requests,
 * `ServerFeedback` options, feedback and budget fields, `Duration` object
 * fields; then options of node-redis, `net` and `node:sqlite` that the
 * limiter hands over.
 */
const cases: ReadonlyArray<Case> = [
  {
    name: "policies",
    value: [{ _tag: "Window", name: "evil", limit: 1000, windowMillis: 1, unit: "requests", keyBy: "global" }]
  },
  { name: "onLimit", value: "fail" },
  { name: "maxWait", value: 0 },
  { name: "onStoreFailure", value: "local" },
  { name: "fallbackShare", value: 1000 },
  { name: "retryStoreAfter", value: 0 },
  { name: "storeTimeout", value: 1 },
  { name: "maxHold", value: false },
  { name: "maxLateness", value: -1 },
  { name: "key", value: "polluted-key" },
  { name: "url", value: "http://polluted.test/" },
  { name: "tokens", value: 1_000_000 },
  { name: "call", value: { method: "DELETE", url: "http://polluted.test/", requestId: "polluted" } },
  { name: "method", value: "DELETE" },
  { name: "requestId", value: "polluted" },
  { name: "status", value: 429 },
  { name: "headers", value: { "retry-after": "3600" } },
  { name: "keyBy", value: "global" },
  { name: "name", value: "polluted" },
  { name: "unit", value: "tokens" },
  { name: "burst", value: 1000 },
  { name: "lease", value: 1 },
  { name: "limit", value: 1 },
  { name: "window", value: "1 millis" },
  { name: "max", value: 1 },
  { name: "windowMillis", value: 1 },
  { name: "leaseMillis", value: 1 },
  { name: "prefix", value: "httpkit:test:polluted-prefix:" },
  { name: "timeout", value: 1, skipRedis: true },
  { name: "maxTimeout", value: 1 },
  { name: "connectTimeout", value: 1 },
  { name: "maxBackoff", value: 1 },
  { name: "maxJitter", value: false },
  { name: "overdueMillis", value: 1_000_000 },
  { name: "path", value: "/tmp/httpkit-polluted.sqlite" },
  { name: "maxKeys", value: 1 },
  { name: "selfBounded", value: true },
  { name: "blockKey", value: "polluted" },
  { name: "maxWaitMillis", value: 0 },
  { name: "now", value: 0 },
  { name: "maxMillis", value: 1 },
  { name: "fallbackMillis", value: 1 },
  { name: "retryAfterMillis", value: 1 },
  { name: "budgets", value: [{ unit: "requests", remaining: 0, resetAfterMillis: 3_600_000, source: "x" }] },
  { name: "remaining", value: 0 },
  { name: "resetAfterMillis", value: 3_600_000 },
  { name: "seconds", value: 1000 },
  { name: "hours", value: 1000 },
  { name: "milliseconds", value: 1000 },
  // What node-redis, `net` and `node:sqlite` would read from the objects the limiter hands them.
  { name: "username", value: "polluted" },
  { name: "password", value: "polluted" },
  { name: "database", value: 7 },
  { name: "readonly", value: true },
  { name: "tls", value: true },
  { name: "host", value: "192.0.2.1" },
  { name: "port", value: 1 },
  { name: "localAddress", value: "192.0.2.1" },
  { name: "RESP", value: 3 },
  { name: "readOnly", value: true },
  { name: "returnArrays", value: true },
  { name: "readBigInts", value: true }
]

/** Runs `support/<script>` with the pinned node; its stdout, or a failure with its stderr when it did not exit 0. */
const runChild = async (script: string, args: ReadonlyArray<string>) => {
  const run = await NodeChild.run([Path.join(here, "support", script), ...args], {
    cwd: Path.join(here, ".."),
    timeoutMillis: 240_000
  })
  if (run.code !== 0) throw new Error(`${script} ended with ${run.code ?? run.signal}\n${run.stderr}`)
  return run.stdout
}

/** Where `actual` differs from `expected`, as `path: expected -> actual` lines. */
const differences = (expected: unknown, actual: unknown, path = ""): Array<string> => {
  if (typeof expected === "object" && expected !== null && typeof actual === "object" && actual !== null) {
    const keys = new Set([...Object.keys(expected), ...Object.keys(actual)])
    return [...keys].flatMap((key) =>
      differences(
        (expected as Record<string, unknown>)[key],
        (actual as Record<string, unknown>)[key],
        `${path}.${key}`
      )
    )
  }
  return Object.is(expected, actual) ? [] : [`${path}: ${JSON.stringify(expected)} -> ${JSON.stringify(actual)}`]
}

await RedisTest.describeWithRedis("a polluted Object.prototype changes nothing the limiter does", () => {
  it(
    `each of ${cases.length} option names set on Object.prototype: the same limits, keys, errors and files`,
    async () => {
      const folder = Fs.mkdtempSync(Path.join(Os.tmpdir(), "httpkit-pollution-"))
      try {
        const output = await runChild("pollutedLimiter.ts", [RedisTest.url, folder, JSON.stringify(cases)])
        const runs = output.split("\n").filter((line) => line.startsWith(`{"name"`)).map((line) =>
          JSON.parse(line) as { readonly name: string | null; readonly seen: Record<string, unknown> | string }
        )
        const [clean, ...polluted] = runs
        assert.strictEqual(clean?.name, null)
        const baseline = clean!.seen as Record<string, unknown>
        // The clean run is what the scenario means: the limits held, Redis and the file were used.
        assert.deepStrictEqual(baseline["redisKeys"], ["w:"])
        assert.strictEqual(baseline["localFile"], true)
        assert.deepStrictEqual(
          polluted.map((run) => run.name),
          cases.map((one) => one.name),
          "every case ran"
        )
        const changed = polluted.flatMap((run, index) => {
          const skipRedis = cases[index]!.skipRedis === true
          const seen = run.seen
          if (typeof seen === "string") return [`${run.name}: ${seen}`]
          const expected = skipRedis ? { ...baseline, redis: "skipped", redisKeys: "skipped" } : baseline
          return differences(expected, seen).map((line) => `${run.name}: ${line}`)
        })
        assert.deepStrictEqual(changed, [])
      } finally {
        Fs.rmSync(folder, { recursive: true, force: true })
      }
    },
    300_000
  )
})

describe("what the libraries under the limiter do with a polluted prototype (upstream traps)", () => {
  it(
    "Schema reads inherited optional keys, Node reads inherited sqlite options, and a polluted `timeout` breaks sockets",
    async () => {
      const seen = JSON.parse((await runChild("upstreamPollution.ts", [])).trim()) as Record<string, unknown>
      // Effect's Schema decodes an inherited value of an optional field. The errors' constructors would copy
      // one; core's errors read their fields by own keys (`Own.fields`), so neither a plain object nor the
      // prototype-less ones the limiter builds (`Own.bare`) give them one.
      assert.strictEqual(seen["schemaDecodesInherited"], "polluted")
      assert.strictEqual(seen["plainErrorUrl"], null)
      assert.strictEqual(seen["bareErrorUrl"], null)
      // node:sqlite reads its options through the prototype: the local store hands it a prototype-less object.
      assert.deepStrictEqual(seen["sqliteRow"], [1])
      // Node's streams keep listeners in a plain object: with `Object.prototype.timeout` set, no socket can
      // listen for "timeout", so no Redis client connects. Nothing a library can do; the case above skips Redis.
      assert.match(String(seen["socketListener"]), /^throws: TypeError/)
    },
    60_000
  )
})
