/**
 * Where the examples and the demo send their requests: the server given with
 * `--url http://127.0.0.1:PORT` (one started with `pnpm test-server`), or a
 * fault-injection server started embedded, in the caller's scope.
 */
import * as TestServer from "@httpkit/testing/TestServer"
import { Console, Effect } from "effect"
import { parseArgs } from "node:util"

/** The base URL given with `--url`, or an embedded server's. */
export const serverUrl = Effect.gen(function*() {
  const { values } = parseArgs({ options: { url: { type: "string" } }, strict: false })
  if (typeof values.url === "string") return values.url.replace(/\/$/, "")
  const server = yield* TestServer.make()
  yield* Console.log(`fault-injection server embedded at ${server.url}`)
  return server.url
})
