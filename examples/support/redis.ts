/**
 * The check the Redis examples make before they rely on Redis: that it
 * answers at its URL's host and port (`requireReachable`), then that it takes
 * the URL's credentials. A password or user that Redis refuses is one line
 * saying so, `Redis refused the credentials at <url>: authentication failed
 * (WRONGPASS ...)`, where it was "unreachable" (the crawler) or a client
 * warning with its stack and an empty `error:` line (the queue examples).
 *
 * ```ts
 * await requireRedis(redisUrl, Redact.url)
 * ```
 */
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import { Effect, Logger } from "effect"
import * as Redis from "effect/persistence/Redis"
import { fail } from "../../scripts/args.ts"
import { requireReachable } from "../../scripts/reachable.ts"

const refusal = /\b(?:WRONGPASS|NOAUTH|invalid password)\b.*$/m

/**
 * What Redis said in refusing a connection's credentials, from its error
 * code to the end of that line (without a final period), or `undefined`
 * when `text` (which may be a longer message wrapping it) says no such
 * thing: `WRONGPASS` (a wrong password, or an unknown or disabled user:
 * ACLs), `NOAUTH` (a password is required and none was given), or the
 * `invalid password` of Redis before 6. A Redis without a password (its
 * `default` user `nopass`) takes any password given without a user.
 */
export const authReason = (text: string): string | undefined => refusal.exec(text)?.[0].trim().replace(/\.$/, "")

/** The messages of an error and of the errors it wraps (node-redis wraps Redis's reply in its connect error). */
const messagesOf = (error: unknown): Array<string> => {
  const texts: Array<string> = []
  let current: unknown = error
  for (let depth = 0; depth < 4 && typeof current === "object" && current !== null; depth++) {
    if (current instanceof Error && current.message !== "") texts.push(current.message)
    current = Object.hasOwn(current, "cause")
      ? (current as { readonly cause?: unknown }).cause
      : Object.hasOwn(current, "originalError")
      ? (current as { readonly originalError?: unknown }).originalError
      : undefined
  }
  return texts
}

/**
 * What Redis said when it refused `url`'s credentials (one line, without the
 * password), or `undefined` when it took them, or failed otherwise (within
 * `timeoutMillis`): those failures are the caller's to report as before.
 */
export const authRefusal = (url: string, timeoutMillis = 5_000): Promise<string | undefined> => {
  const password = decodeURIComponent(URL.parse(url)?.password ?? "")
  return Effect.runPromise(
    Effect.gen(function*() {
      const redis = yield* Redis.Redis
      yield* redis.send("PING")
    }).pipe(
      Effect.provide(NodeRedis.layer({ url })),
      Effect.timeout(timeoutMillis),
      Effect.match({
        onSuccess: () => undefined,
        onFailure: (error) => {
          const said = messagesOf(error).map(authReason).find((reason) => reason !== undefined)
          if (said === undefined) return undefined
          return password === "" ? said : said.replaceAll(password, "REDACTED")
        }
      }),
      // The client's own warning (with a stack) repeats what the line says.
      Effect.provideService(Logger.CurrentLoggers, new Set())
    )
  )
}

/**
 * Exits with status 1 and one line on stderr unless Redis answers at `url`
 * (`Redis was unreachable at <redact(url)> (<reason>)`) and takes its
 * credentials (`Redis refused the credentials at <redact(url)>:
 * authentication failed (<what Redis said>)`).
 */
export const requireRedis = async (url: string, redact: (url: string) => string): Promise<void> => {
  await requireReachable("Redis", url, redact)
  const refused = await authRefusal(url)
  if (refused !== undefined) {
    fail(`Redis refused the credentials at ${redact(url)}: authentication failed (${refused})`, 1)
  }
}
