/**
 * The child of `startup.test.ts`: imports the client by its package barrel,
 * makes one GET to the URL given (with a memory cookie jar when the second
 * argument is `cookies`), then prints one JSON line: the status, the cookies
 * the jar holds, and which of undici's root, undici's agent and `tldts` this
 * process loaded (CommonJS modules, so in `require.cache`, whoever loaded
 * them).
 *
 * Usage: `node startup-child.ts <url> [cookies]`.
 */
import { Effect } from "effect"
import { createRequire } from "node:module"
import { ClientCookies } from "../src/CookieJar.ts"
import { ResilientClient } from "../src/index.ts"

const [url, mode] = process.argv.slice(2)
const call = Effect.gen(function*() {
  const client = yield* ResilientClient.make()
  const response = yield* client.get(url!)
  yield* response.text
  const jar = yield* Effect.serviceOption(ClientCookies)
  const cookies = jar._tag === "Some" ? (yield* jar.value.cookies).map((cookie) => cookie.name) : []
  return { status: response.status, cookies }
})
const result = await Effect.runPromise(
  Effect.scoped(mode === "cookies" ? Effect.provide(call, ClientCookies.layerMemory) : call)
)
const loaded = Object.keys(createRequire(import.meta.url).cache)
const has = (pattern: RegExp) => loaded.some((file) => pattern.test(file))
process.stdout.write(
  `${
    JSON.stringify({
      ...result,
      undiciRoot: has(/[/\\]undici[/\\]index\.js$/),
      undiciAgent: has(/[/\\]undici[/\\]lib[/\\]dispatcher[/\\]agent\.js$/),
      tldts: has(/[/\\]tldts[/\\]/)
    })
  }\n`
)
