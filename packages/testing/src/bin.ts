#!/usr/bin/env node
/**
 * The fault-injection server as a standalone process:
 * `pnpm test-server --port 8080 [--host 127.0.0.1] [--log]`; `--help` lists
 * every flag (`internal/cli.ts`).
 *
 * The first line of output is the base URL; the second names the raw-socket
 * listener. With `--log`, one line per request goes to stderr, so stdout
 * stays those two lines. SIGINT and SIGTERM stop it cleanly (open
 * connections are closed).
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Runtime from "effect/Runtime"
import { parseArgs } from "node:util"
import { flags, help, usage } from "./internal/cli.ts"
import * as TestServer from "./TestServer.ts"

const parsePort = (value: string | undefined): number | undefined => {
  if (value === undefined) return 0
  if (!/^\d+$/.test(value)) return undefined
  const port = Number(value)
  return port <= 65_535 ? port : undefined
}

/** A usage error: printed without a stack trace, exit status 2. */
class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

const main = Effect.gen(function*() {
  const { values } = yield* Effect.try({
    try: () =>
      parseArgs({
        options: flags,
        strict: true
      }),
    catch: (error) => new UsageError({ message: (error as Error).message })
  })
  if (values.help === true) return yield* Effect.sync(() => process.stdout.write(help()))
  const port = parsePort(values.port)
  if (port === undefined) {
    return yield* Effect.fail(new UsageError({ message: "--port must be an integer from 0 to 65535" }))
  }
  const server = yield* TestServer.make({
    port,
    host: values.host,
    log: values.log === true ? (line) => process.stderr.write(`${line}\n`) : undefined
  })
  yield* Console.log(server.url)
  yield* Console.log(`raw-socket listener: ${server.rawUrl}`)
  return yield* Effect.never
})

const program = Effect.scoped(main).pipe(
  Effect.catchTag(
    "UsageError",
    (error) => Effect.andThen(Console.error(`${error.message}\n${usage}`), Effect.sync(() => (process.exitCode = 2)))
  ),
  Effect.catchTag("ServeError", (error) =>
    Effect.andThen(
      Console.error(`cannot start the server: ${String((error.cause as Error | undefined)?.message ?? error)}`),
      Effect.sync(() => (process.exitCode = 1))
    ))
)

// Stopping on SIGINT or SIGTERM is the normal end of this process: exit 0.
NodeRuntime.runMain(program, {
  teardown: (exit, onExit) =>
    Exit.hasInterrupts(exit)
      ? onExit(0)
      : Runtime.defaultTeardown(exit, (code) => onExit(code || (process.exitCode as number) || 0))
})
