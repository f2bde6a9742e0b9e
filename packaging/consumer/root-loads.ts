/**
 * A user's program that imports `@httpkit/rate-limiter` by its root, with a
 * resolve hook recording every module Node resolves, then, as a control,
 * `@httpkit/rate-limiter/RedisStore`. Prints one JSON line: for each of the
 * two, the installed packages among `redis`, `@redis/*` and
 * `@effect/platform-node` that its import resolved.
 */
import { registerHooks } from "node:module"

/** The watched package a resolved URL lies in, if any. */
const watched = (url: string): string | undefined =>
  /\/node_modules\/(redis|@redis\/[^/]+|@effect\/platform-node)\//.exec(url)?.[1]

const resolved = new Set<string>()
registerHooks({
  resolve(specifier, context, nextResolve) {
    const result = nextResolve(specifier, context)
    const name = watched(result.url)
    if (name !== undefined) resolved.add(name)
    return result
  }
})

await import("@httpkit/rate-limiter")
const root = [...resolved].toSorted()
resolved.clear()
await import("@httpkit/rate-limiter/RedisStore")
const redisStore = [...resolved].toSorted()

console.log(JSON.stringify({ root, redisStore }))
