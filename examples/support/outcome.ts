/**
 * How an example ends when what it shows did not happen: `check(ok, what)`
 * fails with `Unexpected`, and `runMain` prints it as one line on stderr,
 * `unexpected: <what>`, with exit status 1 and no stack trace. Every claim an
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

/** `NodeRuntime.runMain`, with `Unexpected` reported as its one line and exit status 1. */
export const runMain = <A, E>(program: Effect.Effect<A, E>): void =>
  NodeRuntime.runMain(program.pipe(
    Effect.catch((error) =>
      error instanceof Unexpected
        ? Effect.sync(() => {
          process.stderr.write(`${error.message}\n`)
          process.exitCode = 1
        })
        : Effect.fail(error)
    )
  ))
