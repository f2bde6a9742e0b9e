/**
 * Helpers for tests that need a real Redis.
 *
 * Tests read `REDIS_URL` (default `redis://127.0.0.1:6379`). When Redis cannot
 * be reached the suite is skipped with the reason in its name, so the skip is
 * visible in the report; under `CI=true` an unreachable Redis fails the run
 * instead, because CI promises to test against a real one.
 *
 * @since 0.1.0
 */
import * as Net from "node:net"
import { exactly } from "./internal/own.ts"

/**
 * The Redis URL tests use: `REDIS_URL`, or `redis://127.0.0.1:6379`.
 *
 * @category constants
 * @since 0.1.0
 */
export const url: string = process.env.REDIS_URL ?? "redis://127.0.0.1:6379"

/**
 * Whether Redis answered, and why not when it did not.
 *
 * @category models
 * @since 0.1.0
 */
export type Probe = { readonly reachable: true } | { readonly reachable: false; readonly reason: string }

/**
 * Sends `PING` to the Redis at `redisUrl` and waits at most `timeoutMillis`
 * for an answer. A `NOAUTH` answer counts as reachable: a server is there.
 *
 * @category utils
 * @since 0.1.0
 */
export const probe = (redisUrl: string = url, timeoutMillis = 1_000): Promise<Probe> =>
  new Promise((resolve) => {
    let parsed: URL
    try {
      parsed = new URL(redisUrl)
    } catch {
      return resolve({ reachable: false, reason: `REDIS_URL is not a URL` })
    }
    const host = parsed.hostname.replace(/^\[|\]$/g, "") || "127.0.0.1"
    const port = parsed.port === "" ? 6379 : Number(parsed.port)
    // Exactly these options: a `path` on a polluted `Object.prototype` would make it a UNIX socket.
    const socket = Net.connect(exactly({ host, port }))
    let answer = ""
    const finish = (result: Probe) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(result)
    }
    const timer = setTimeout(
      () => finish({ reachable: false, reason: `no answer within ${timeoutMillis} ms` }),
      timeoutMillis
    )
    socket.on("connect", () => socket.write("PING\r\n"))
    socket.on("data", (chunk) => {
      answer += chunk.toString("latin1")
      if (!answer.includes("\r\n")) return
      finish(
        answer.startsWith("+PONG") || answer.startsWith("-NOAUTH")
          ? { reachable: true }
          : { reachable: false, reason: `unexpected answer ${JSON.stringify(answer.trim().slice(0, 60))}` }
      )
    })
    socket.on("error", (error) => finish({ reachable: false, reason: error.message }))
  })

/**
 * What a suite does given the probe and whether it runs in CI: run, skip with a
 * reason, or fail the run.
 *
 * @category utils
 * @since 0.1.0
 */
export const decide = (
  result: Probe,
  ci: boolean,
  redisUrl: string = url
): { readonly _tag: "Run" } | { readonly _tag: "Skip"; readonly reason: string } | {
  readonly _tag: "Fail"
  readonly reason: string
} => {
  if (result.reachable) return { _tag: "Run" }
  const reason = `Redis unreachable at ${redactUrl(redisUrl)}: ${result.reason}`
  return ci ? { _tag: "Fail", reason: `${reason} (CI=true requires a real Redis)` } : { _tag: "Skip", reason }
}

/**
 * Declares a `describe` block that runs only when Redis is reachable. Await it
 * at the top level of a test file:
 *
 * ```ts
 * await RedisTest.describeWithRedis("limiter on Redis", () => { ... })
 * ```
 *
 * **Gotchas**
 *
 * It must be awaited: the probe is asynchronous, and vitest collects a file's
 * tests when its top level ends. A call that is not awaited (nor `.then`ed)
 * rejects with an error saying so, which vitest reports as an unhandled
 * rejection and fails the run, rather than skipping the block silently.
 *
 * @category utils
 * @since 0.1.0
 */
export const describeWithRedis = (name: string, body: () => void): Promise<void> => {
  let awaited = false
  const declared = declare(name, body, () => awaited)
  const observe = () => {
    awaited = true
    return declared
  }
  // `await` calls `then` on anything but a plain promise; that call is how a forgotten `await` is told apart.
  const handle: Promise<void> = {
    // oxlint-disable-next-line unicorn/no-thenable
    then: (onFulfilled, onRejected) => observe().then(onFulfilled, onRejected),
    catch: (onRejected) => observe().catch(onRejected),
    finally: (onFinally) => observe().finally(onFinally),
    [Symbol.toStringTag]: "Promise"
  }
  return handle
}

const declare = async (name: string, body: () => void, awaited: () => boolean): Promise<void> => {
  // Loaded here, not at the top: `vitest` is an optional peer, and the other helpers work without it.
  const { describe } = await import("vitest")
  // One turn of the event loop: an `await` on the handle has called its `then` by now.
  await new Promise((resolve) => setImmediate(resolve))
  if (!awaited()) {
    throw new Error(
      `RedisTest.describeWithRedis("${name}", ...) was not awaited, so vitest would never see its tests: ` +
        `write \`await RedisTest.describeWithRedis(...)\` at the top level of the test file`
    )
  }
  const decision = decide(await probe(), process.env.CI === "true")
  switch (decision._tag) {
    case "Run":
      describe(name, body)
      return
    case "Skip":
      describe.skip(`${name} [skipped: ${decision.reason}]`, body)
      return
    case "Fail":
      throw new Error(decision.reason)
  }
}

/** Hides the password of a Redis URL. */
const redactUrl = (redisUrl: string): string => {
  try {
    const parsed = new URL(redisUrl)
    if (parsed.password !== "") parsed.password = "***"
    return parsed.toString()
  } catch {
    return "(invalid REDIS_URL)"
  }
}
