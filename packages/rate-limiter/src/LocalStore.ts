/**
 * A `LimiterStore` kept in one SQLite file (`node:sqlite`), so worker threads
 * and processes on one machine share one limit without a server.
 *
 * Use it when several processes of one application (a CLI started many
 * times, a cluster of workers, a job runner) call the same API and must stay
 * under its limits together, and there is no Redis. For one process, the
 * memory store is faster; across machines, use the Redis store.
 *
 * **Details**
 *
 * - Every operation is one `BEGIN IMMEDIATE` ... `COMMIT` transaction: it
 *   takes the file's write lock, reads the rows it needs, runs the same
 *   arithmetic as the memory store (`internal/algorithm.ts`), and writes
 *   back. So threads and processes see one state, and two of them are never
 *   promised the same slot.
 * - Time is the machine's clock (`Date.now()`), read once the lock is held.
 *   It is not Effect's `Clock`: `TestClock` does not move this store.
 * - The file is in WAL mode with `synchronous = NORMAL`: a crash of the
 *   machine may forget the last few bookings, never corrupt the file.
 * - Ids, keys and tokens are kept exactly. SQLite stores text as UTF-8,
 *   where a lone UTF-16 surrogate becomes U+FFFD (`"user-\ud800"` and
 *   `"user-\udfff"` would be one row), so an id that is not well-formed
 *   UTF-16, or that starts with U+FFFE, is stored as U+FFFE and the hex of
 *   its code units; every other id is stored as it is.
 * - A `Policy.window`'s bookings are rows of their own, indexed by time,
 *   each with the running total of the costs booked up to it: an operation
 *   costs `O(log n)` index lookups for the `n` bookings of its window (plus
 *   a row rewritten for each booking made ahead by a waiter that a request
 *   goes before), not a read and a write of the whole log. Bookings that leave the window are
 *   deleted as it moves, at most 1,000 an operation.
 * - Rows whose state no longer matters (a window whose entries all left, a
 *   rate whose bucket refilled, an expired block or lease) are deleted in
 *   small batches every few hundred operations, so the file stays bounded by
 *   the keys in use.
 * - The default file is `<os.tmpdir()>/httpkit-<user>/rate-limiter.sqlite`
 *   (see `defaultPath`): one per user, so processes of one user share it. The
 *   folder is created with mode 0700 and must belong to the user; the file is
 *   created with mode 0600. Pass `path` to share a limit between users, or to
 *   keep separate limits per application.
 * - A file that is not a database, or a database of another application, is
 *   refused and left untouched; a file written by this store is marked with
 *   its own `application_id` and schema version. A file of schema version 1
 *   (an earlier version of this store, which kept a window's log in one row)
 *   is converted when a store first opens it, in one transaction.
 *
 * **Gotchas**
 *
 * - `node:sqlite` is synchronous: an operation blocks the thread's event loop
 *   while it runs, and when another thread or process holds the lock, for up
 *   to `timeout` (1 second by default) before failing with
 *   `RateLimiterUnavailableError`. A transaction lasts well under a
 *   millisecond, so waits are short unless something holds the lock for
 *   long; keep `timeout` small in latency-sensitive servers.
 * - Converting a file of schema version 1 holds its lock while it runs
 *   (0.2-0.7 s for a window of 100,000 bookings on a 2-core machine):
 *   others opening or using the file meanwhile wait, up to their `timeout`.
 *   Processes of the earlier version still using the file then fail on it
 *   with `RateLimiterUnavailableError` (`no such column: entries`) until
 *   they are upgraded, rather than keep a count of their own beside this one.
 * - Every process must be on the same machine: SQLite's WAL mode needs shared
 *   memory, so a file on a network file system is not supported.
 * - Failures (a locked or unwritable file, a corrupt database) are
 *   `RateLimiterUnavailableError` with `backend: "local"`; `retryable` is true
 *   for a busy or locked database and I/O errors, false for a file that can
 *   never work (not a database, wrong schema, no permission).
 * - A `timeout` that is no duration (`"20s"`, `"250ms"`, `"1 second"` and
 *   milliseconds are) or is longer than SQLite takes fails `make`, before
 *   the file is touched, with a `RateLimiterUnavailableError` (`retryable:
 *   false`) whose detail is in the shape of every httpkit configuration
 *   error: `invalid local store configuration: timeout is "soon", expected a
 *   duration such as 250ms, ...`.
 *
 * @since 0.1.0
 */
import * as ConfigProblem from "@httpkit/core/ConfigProblem"
import type * as DurationInput from "@httpkit/core/DurationInput"
import { RateLimiterUnavailableError } from "@httpkit/core/RateLimitError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Os from "node:os"
import * as Path from "node:path"
import * as GuardedStore from "./internal/guardedStore.ts"
import * as LocalDatabase from "./internal/localDatabase.ts"
import * as Own from "./internal/own.ts"
import * as LimiterStore from "./LimiterStore.ts"

/**
 * Options of the local store.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /**
   * The database file. Its folder is created when missing.
   *
   * @default defaultPath(), `<os.tmpdir()>/httpkit-<user>/rate-limiter.sqlite`
   */
  readonly path?: string | undefined
  /**
   * How long one operation waits for the file's lock (SQLite's busy timeout)
   * before failing with `RateLimiterUnavailableError`. The thread is blocked
   * meanwhile.
   *
   * @default "1 second"
   */
  readonly timeout?: DurationInput.Input | undefined
}

/** The busy timeout SQLite accepts: a 32-bit count of milliseconds. */
const maxTimeoutMillis = 2 ** 31 - 1

/** The user's name, reduced to characters safe in a file name. */
const userName = (): string => {
  let name: string | undefined
  try {
    name = Os.userInfo().username
  } catch {
    // No passwd entry (a container with an arbitrary uid): fall back below.
  }
  if (name === undefined || name === "") name = Own.get(process.env, "USER") ?? Own.get(process.env, "USERNAME")
  if (name === undefined || name === "") name = `uid${process.getuid?.() ?? "unknown"}`
  return name.replace(/[^A-Za-z0-9._-]/g, "_")
}

/**
 * The file used when `path` is not given:
 * `<os.tmpdir()>/httpkit-<user>/rate-limiter.sqlite`, where `<user>` is the
 * user's name with characters other than letters, digits, `.`, `_` and `-`
 * replaced by `_`.
 *
 * @category utils
 * @since 0.1.0
 */
export const defaultPath = (): string => Path.join(Os.tmpdir(), `httpkit-${userName()}`, "rate-limiter.sqlite")

const unavailable = (operation: string, cause: unknown): RateLimiterUnavailableError => {
  const { detail, retryable } = LocalDatabase.describeFailure(cause)
  return new RateLimiterUnavailableError(Own.bare({ backend: "local", retryable, detail: `${operation}: ${detail}` }))
}

/** The busy timeout in whole milliseconds, or the problem with `timeout`. */
const timeoutMillisOf = (input: unknown): Effect.Effect<number, RateLimiterUnavailableError> => {
  const problems: Array<ConfigProblem.ConfigProblem> = []
  const millis = Own.checkedMillis(input, 1_000, "timeout", problems)
  if (problems.length === 0 && millis > maxTimeoutMillis) {
    problems.push({
      setting: "timeout",
      received: `${millis} ms`,
      expected: `a duration of at most ${maxTimeoutMillis} ms (SQLite's busy timeout)`
    })
  }
  return problems.length === 0
    ? Effect.succeed(Math.ceil(millis))
    : Effect.fail(
      new RateLimiterUnavailableError(Own.bare({
        backend: "local",
        retryable: false,
        detail: ConfigProblem.message("local store configuration", problems)
      }))
    )
}

const run = <A>(operation: string, body: () => A): Effect.Effect<A, RateLimiterUnavailableError> =>
  Effect.try({ try: body, catch: (cause) => unavailable(operation, cause) })

/**
 * Opens (creating when missing) the store's file; the database closes when
 * the scope does. Fails with `RateLimiterUnavailableError` when the file
 * cannot be created or opened, is not a database, or belongs to another
 * application; such a file is left untouched, and when `timeout` cannot be
 * used (`invalid local store configuration: timeout is "soon", expected a
 * duration such as 250ms, ...`).
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (
  options: Options = {}
): Effect.Effect<LimiterStore.Store, RateLimiterUnavailableError, Scope.Scope> =>
  Effect.gen(function*() {
    const timeoutMillis = yield* timeoutMillisOf(Own.get(options, "timeout"))
    const database = yield* Effect.acquireRelease(
      Effect.try({
        try: () => {
          const path = Own.get(options, "path")
          return path === undefined
            ? LocalDatabase.open(defaultPath(), timeoutMillis, true)
            : LocalDatabase.open(path, timeoutMillis, false)
        },
        catch: (cause) => unavailable("open", cause)
      }),
      (database) => Effect.sync(() => database.close())
    )
    return GuardedStore.trusted(
      {
        backend: "local",
        selfBounded: true,
        reserve: (request) =>
          run("reserve", () => database.reserve(request.items, request.blockKey, request.maxWaitMillis)),
        block: (key, millis) => run("block", () => database.block(key, millis)),
        cancel: (request) => run("cancel", () => database.cancel(request.items, request.at)),
        lease: (request) =>
          run("lease", () => database.lease(request.id, request.max, request.token, request.leaseMillis)),
        release: (id, token) => run("release", () => database.release(id, token))
      } satisfies LimiterStore.Store
    )
  })

/**
 * The local store as a layer: the database opens when the layer is built
 * and closes with it.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  options: Options = {}
): Layer.Layer<LimiterStore.LimiterStore, RateLimiterUnavailableError> =>
  Layer.effect(LimiterStore.LimiterStore, make(options))
