/**
 * Opens the local store at the path given as first argument, closes it, and
 * prints the outcome as one JSON line: `{ "opened": true }` or the typed
 * error's fields. Run as a child process, so a test running as root can run
 * it as another user to meet a folder without write permission.
 */
import * as Effect from "effect/Effect"
import * as LocalStore from "../../src/LocalStore.ts"

const path = process.argv[2]
if (path === undefined) throw new Error("usage: node localOpen.ts <path>")

const result = await Effect.runPromise(Effect.result(Effect.scoped(LocalStore.make({ path }))))
process.stdout.write(
  `${
    JSON.stringify(
      result._tag === "Success" ? { opened: true } : {
        opened: false,
        _tag: result.failure._tag,
        backend: result.failure.backend,
        retryable: result.failure.retryable,
        detail: result.failure.detail
      }
    )
  }\n`
)
