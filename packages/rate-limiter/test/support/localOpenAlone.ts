/**
 * Opens the local store's database at the path given as first argument, as
 * `LocalStore.make` does, and prints the outcome as one JSON line:
 * `{ "opened": true }`, or `{ "opened": false, "retryable": ..., "detail": ... }`
 * as `LocalStore` would put them in its `RateLimiterUnavailableError`.
 *
 * It imports nothing but `node:` modules and the store's database module
 * (which itself needs only `localWindow.ts` and `algorithm.ts`), so a test can
 * copy these four files, keeping their relative places, into a fresh
 * temporary folder and run them as another user, wherever the checkout lives
 * and whoever may enter it.
 */
import * as LocalDatabase from "../../src/internal/localDatabase.ts"

const path = process.argv[2]
if (path === undefined) throw new Error("usage: node localOpenAlone.ts <path>")

let outcome: Record<string, unknown>
try {
  LocalDatabase.open(path, 1_000, false).close()
  outcome = { opened: true }
} catch (cause) {
  const { detail, retryable } = LocalDatabase.describeFailure(cause)
  outcome = { opened: false, retryable, detail }
}
process.stdout.write(`${JSON.stringify(outcome)}\n`)
