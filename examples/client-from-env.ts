/**
 * `ResilientClient.layerConfig()`: a client configured from the environment,
 * from variables under `HTTPKIT_` (`HTTPKIT_BASE_URL`,
 * `HTTPKIT_RETRY_MAX_ATTEMPTS`, `HTTPKIT_TIMEOUT_ATTEMPT`, ...).
 *
 * The example sets a few of them in its own process when they are absent
 * (`HTTPKIT_BASE_URL` to the server's URL), prints the configuration the
 * client resolved, then sends a request to show it in use. Variables already
 * set in your shell win, so try
 * `HTTPKIT_RETRY_MAX_ATTEMPTS=5 npm run example -- client-from-env`, or an
 * invalid value such as `HTTPKIT_TIMEOUT_CONNECT=soon` to see the
 * `ClientConfigError`.
 *
 * Run it with `npm run example -- client-from-env` (starts the fault-injection
 * server embedded, unless `HTTPKIT_BASE_URL` is set), or against a server
 * started with `npm run test-server`: `npm run example -- client-from-env --url http://127.0.0.1:PORT`.
 */
import * as ResilientClient from "@httpkit/client/ResilientClient"
import * as Redact from "@httpkit/core/Redact"
import * as TestServer from "@httpkit/testing/TestServer"
import { Console, Effect, Schema } from "effect"
import { runMain } from "./support/outcome.ts"
import { requireServer, serverFlags, serverHelp } from "./support/server.ts"

const usage = `Usage: [HTTPKIT_NAME=VALUE ...] npm run example -- client-from-env [--url URL]

A client configured from HTTPKIT_* variables (ResilientClient.layerConfig); variables set in the shell win.

${serverHelp}`
const flags = serverFlags(usage)

const Echo = Schema.Struct({ headers: Schema.Record(Schema.String, Schema.String) })

/**
 * The base URL given with `--url` (which wins) or `HTTPKIT_BASE_URL`, once
 * something answers there (else one line and exit 1), or an embedded server's.
 */
const serverUrl = Effect.gen(function*() {
  if (flags.url !== undefined) process.env["HTTPKIT_BASE_URL"] = flags.url.replace(/\/$/, "")
  const given = process.env["HTTPKIT_BASE_URL"]
  // A value that is not a URL is left to the client's configuration error, which names the variable.
  if (given !== undefined && URL.parse(given) !== null) yield* requireServer(given)
  if (given !== undefined) return given
  const server = yield* TestServer.make()
  yield* Console.log(`fault-injection server embedded at ${server.url}`)
  return server.url
})

/** `Redact.url`, without the `/` it adds to a bare origin. */
const showUrl = (url: string): string => url.endsWith("/") ? Redact.url(url) : Redact.url(url).replace(/\/$/, "")

/**
 * Sets `name` unless the environment already has it, and says which happened;
 * `show` writes the value (`showUrl` for a URL, so `http://user:password@host`
 * prints no credentials).
 */
const setDefault = (name: string, value: string, show: (value: string) => string = (value) => value) =>
  Effect.suspend(() => {
    const given = process.env[name]
    if (given === undefined) process.env[name] = value
    return Console.log(`${name}=${show(process.env[name]!)} (${given === undefined ? "set by this example" : "given"})`)
  })

const program = Effect.gen(function*() {
  const client = yield* ResilientClient.ResilientClient
  const { config } = client
  yield* Console.log("resolved configuration:")
  yield* Console.log(`  baseUrl            ${config.baseUrl === undefined ? "(none)" : showUrl(config.baseUrl)}`)
  yield* Console.log(`  userAgent          ${config.userAgent}`)
  yield* Console.log(`  retry.maxAttempts  ${config.retry.maxAttempts}`)
  yield* Console.log(`  retry.minDelay     ${config.retry.minDelay} ms`)
  yield* Console.log(`  timeout.attempt    ${config.timeout.attempt} ms`)
  yield* Console.log(`  timeout.connect    ${config.timeout.connect} ms`)

  // A relative URL goes to the configured base; the server echoes what it received.
  const echo = yield* client.getJson("/echo", Echo)
  yield* Console.log(`GET /echo sent with user-agent: ${echo.headers["user-agent"]}`)
})

const main = Effect.gen(function*() {
  yield* setDefault("HTTPKIT_BASE_URL", yield* serverUrl, showUrl)
  yield* setDefault("HTTPKIT_USER_AGENT", "httpkit-example/1.0")
  yield* setDefault("HTTPKIT_RETRY_MAX_ATTEMPTS", "2")
  yield* setDefault("HTTPKIT_RETRY_MIN_DELAY", "50ms")
  yield* setDefault("HTTPKIT_TIMEOUT_ATTEMPT", "5s")

  // The layer reads the variables when it is built, i.e. now, after they were set.
  yield* program.pipe(Effect.provide(ResilientClient.layerConfig()))
  yield* Console.log("done")
  // A bad variable is the user's to fix: runMain prints its message (which names it) on one line, exit status 2.
}).pipe(Effect.scoped)

runMain(main)
