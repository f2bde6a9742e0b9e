/**
 * Where the examples and the demo send their requests: the server given with
 * `--url http://127.0.0.1:PORT` (one started with `npm run test-server`), or a
 * fault-injection server started embedded, in the caller's scope. Also the
 * flags every such example takes, read with the shared `scripts/args.ts`.
 */
import * as TestServer from "@httpkit/testing/TestServer"
import { Console, Effect } from "effect"
import { fail, parseFlags } from "../../scripts/args.ts"

/** The help lines of `--url` and `--help`, for an example's usage text. */
export const serverHelp =
  `  --url URL     send the requests to a server started with \`npm run test-server\` (default: one started embedded)
  -h, --help    this text`

/**
 * The flags of an example that talks to the fault-injection server, `--url`
 * and `--help`, plus `options` of its own; an unknown flag or a stray
 * argument prints `usage` and exits with status 2, `--help` prints it and
 * exits with 0.
 */
export const serverFlags = <const O extends Record<string, { readonly type: "string" | "boolean" }>>(
  usage: string,
  options: O = {} as O
) => {
  const { values } = parseFlags({
    options: { ...options, url: { type: "string" }, help: { type: "boolean", short: "h" } }
  }, usage)
  const given = (values as { readonly url?: string | undefined }).url
  const url = given === undefined ? undefined : URL.parse(given)
  if (url !== undefined && (url === null || !/^https?:$/.test(url.protocol) || url.hostname === "")) {
    fail(`--url must be an http:// or https:// URL such as http://127.0.0.1:8080, got ${JSON.stringify(given)}`)
  }
  return values
}

/** The base URL given (`--url`), or an embedded server's. */
export const serverUrl = (given: string | undefined) =>
  Effect.gen(function*() {
    if (given !== undefined) return given.replace(/\/$/, "")
    const server = yield* TestServer.make()
    yield* Console.log(`fault-injection server embedded at ${server.url}`)
    return server.url
  })
