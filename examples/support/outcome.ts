/**
 * How an example ends when what it shows did not happen: `check(ok, what)`
 * fails with `Unexpected`, and `runMain` prints it as one line on stderr,
 * `unexpected: <what>`, with exit status 1 and no stack trace (any other typed
 * failure: `error: <message>`, exit 1, or 2 for a configuration error). Every claim an
 * example prints is checked this way, so that it never exits 0 having
 * printed something false.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Data, Effect } from "effect"

/** What an example shows did not happen; `message` is the line it prints. */
export class Unexpected extends Data.TaggedError("Unexpected")<{ readonly message: string }> {}

/** Fails with `Unexpected`: `unexpected: <what>`. */
export const unexpected = (what: string): Effect.Effect<never, Unexpected> =>
  Effect.fail(new Unexpected({ message: `unexpected: ${what}` }))

/** Fails with `Unexpected` (`unexpected: <what>`) unless `ok`. */
export const check = (ok: boolean, what: string): Effect.Effect<void, Unexpected> => ok ? Effect.void : unexpected(what)

/** The configuration errors that come from what the user typed (flags, `HTTPKIT_*` variables): exit status 2. */
const configErrors: ReadonlySet<string> = new Set(["ClientConfigError", "DownloadConfigError", "MetricsConfigError"])

/** A typed failure: an object with a string `_tag` and a string `message`. */
const isTyped = (error: unknown): error is { readonly _tag: string; readonly message: string } =>
  typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string" &&
  "message" in error && typeof error.message === "string"

/**
 * `NodeRuntime.runMain`, with every typed failure reported as one line on
 * stderr and no stack trace: `Unexpected` as `unexpected: <what>` (exit 1), a
 * configuration error from the command line (`ClientConfigError`,
 * `DownloadConfigError`, `MetricsConfigError`) as `error: <message>` with exit
 * status 2, any other as `error: <message>` with exit status 1. Defects keep
 * Effect's report, stack included.
 */
export const runMain = <A, E>(program: Effect.Effect<A, E>): void =>
  NodeRuntime.runMain(program.pipe(
    Effect.catch((error) =>
      error instanceof Unexpected
        ? Effect.sync(() => {
          process.stderr.write(`${error.message}\n`)
          process.exitCode = 1
        })
        : isTyped(error)
        ? Effect.sync(() => {
          process.stderr.write(`error: ${error.message.replace(/\s*\n\s*/g, " ")}\n`)
          process.exitCode = configErrors.has(error._tag) ? 2 : 1
        })
        : Effect.fail(error)
    )
  ))
