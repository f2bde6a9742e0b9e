/**
 * Credentials for `ResilientClient`: the headers every attempt carries, the
 * way to change them at run time, and a refresh hook run once after a 401.
 *
 * Build an `Auth` with a constructor (`bearer`, `apiKey`, `anthropic`,
 * `headers`, `none`) or provide one to the ambient `ClientAuth` with a layer
 * (`layerBearer`, `layerBearerConfig(Config.Redacted("API_TOKEN"))`, ...).
 * The client reads `current` at every attempt, so a key changed with `set`
 * applies to the next attempt, and calls `refresh(generation)` when a 401
 * answered an attempt made with that generation.
 *
 * ```ts
 * import * as Auth from "@httpkit/client/Auth"
 * import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
 *
 * // from the environment
 * const AuthLive = Auth.layerBearerConfig(Config.Redacted("API_TOKEN"), {
 *   onUnauthorized: fetchNewToken // Effect<string | Redacted<string>, E, R>
 * })
 * ```
 *
 * **Details**
 *
 * - Secrets are held only as `Redacted`; `String`, `JSON.stringify` and
 *   inspection of an `Auth`, a `Snapshot` or an `AuthConfigError` show none.
 * - Concurrent 401s for the same generation share one run of the refresh hook.
 *   The run is bounded by `refreshTimeout` (30 seconds by default); a hook
 *   that fails, dies or times out makes `refresh` return `false` and logs a
 *   warning with the error's tag and message, with every known secret value
 *   replaced by `REDACTED` and URLs and secret-named `name=value` pairs
 *   redacted (`Redact.text`).
 * - A failed run is remembered for its generation: for `refreshBackoff`
 *   (5 seconds by default) every 401 on those same credentials gets `false`
 *   at once, without running the hook again, so a token endpoint that
 *   refuses is asked once per backoff, not once per call. New credentials
 *   (`set`) end the backoff at once; after it, the next 401 runs the hook
 *   again.
 * - A request made from inside the hook (the hook calls the token endpoint
 *   through the same client) never waits on or starts a refresh of the same
 *   `Auth`: its 401 is its answer at once (`Refreshing` marks the hook's
 *   fiber). Without this, the hook's own 401 would wait on the run it is
 *   part of until `refreshTimeout`.
 * - Header names must be HTTP tokens; values must be non-empty and free of
 *   control characters other than tab (so no CR, LF or NUL) and of characters
 *   above U+00FF. Invalid credentials fail with `AuthConfigError`, whose
 *   message never contains the value (nor a name that is not a valid token),
 *   in the shape of every httpkit configuration error:
 *   `invalid auth configuration: headers.authorization is set (value not
 *   shown), expected a header value without CR, LF, NUL, ...`.
 * - `refreshTimeout` takes `"20s"`, `"250ms"`, Effect's `"5 seconds"`, a
 *   `Duration` or milliseconds (`@httpkit/core/DurationInput`); another
 *   value fails the constructor with `AuthConfigError` (`refreshTimeout`).
 * - `onUnauthorized` is an `Effect`, run at each refresh. A function, a
 *   Promise or any other value fails the constructor with `AuthConfigError`
 *   (`invalid-refresh-hook`): run as an effect, it would end the refresh's
 *   fiber past every handler.
 *
 * **Gotchas**
 *
 * - A client built without a `ClientAuth` in its context sends no
 *   credentials and never will. Provide a layer, even `layerNone`, to set
 *   credentials at run time.
 * - The refresh hook runs in its own fiber, so the caller that triggered it
 *   can be interrupted without cancelling the run the others wait for.
 * - `anthropic-version` is not a secret, but it is carried like the key (as a
 *   `Redacted`, and listed in `secretHeaderNames`) so a snapshot has one shape
 *   and every header an `Auth` sends is treated alike; logs show it as
 *   redacted.
 *
 * @since 0.1.0
 */
import * as ConfigProblem from "@httpkit/core/ConfigProblem"
import * as DurationInput from "@httpkit/core/DurationInput"
import * as HeaderSyntax from "@httpkit/core/HeaderSyntax"
import * as Own from "@httpkit/core/Own"
import * as UserHook from "@httpkit/core/UserHook"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { NodeInspectSymbol } from "effect/Inspectable"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import { own } from "./internal/own.ts"
import * as Redact from "./Redact.ts"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * One credential header: its lower-case name and its secret value.
 *
 * @category models
 * @since 0.1.0
 */
export type Header = readonly [name: string, value: Redacted.Redacted<string>]

/**
 * Headers as callers pass them: any case for the name, a `Redacted` or a plain
 * string for the value (wrapped in `Redacted` at once).
 *
 * @category models
 * @since 0.1.0
 */
export type HeadersInput = ReadonlyArray<readonly [name: string, value: Redacted.Redacted<string> | string]>

/**
 * Credentials applied to one attempt.
 *
 * @category models
 * @since 0.1.0
 */
export interface Snapshot {
  /** Header name (lower case) and secret value, applied in order. */
  readonly headers: ReadonlyArray<Header>
  /** Increases every time the credentials change (set or refresh). */
  readonly generation: number
}

/**
 * The credentials of a client, read at every attempt.
 *
 * @category models
 * @since 0.1.0
 */
export interface Auth {
  /** The credentials for the next attempt; read at every attempt so a key changed at run time applies at once. */
  readonly current: Effect.Effect<Snapshot>
  /**
   * Called after a 401 answered an attempt that used `generation`. Resolves
   * to `true` when newer credentials are in place (refreshed now, by a
   * concurrent caller, or replaced with `set`), `false` when there is no
   * refresh hook or it failed or timed out (logged without secrets, never
   * thrown). Concurrent calls for the same generation share one run of the
   * hook.
   */
  readonly refresh: (generation: number) => Effect.Effect<boolean>
  /** Replaces the credentials at run time (bumps the generation); fails with `AuthConfigError` when they are invalid. */
  readonly set: (headers: HeadersInput) => Effect.Effect<void, AuthConfigError>
  /**
   * Header names this auth sends, lower case, so logs and redirects treat
   * them as secret. Names added with `set` join the set; none ever leave it.
   */
  readonly secretHeaderNames: ReadonlySet<string>
}

/**
 * Options of every constructor with a refresh hook.
 *
 * @category models
 * @since 0.1.0
 */
export interface RefreshOptions<A, E = never, R = never> {
  /**
   * Obtains new credentials after a 401. Its failures (any `E`), defects and
   * timeouts make `refresh` return `false`; they are logged, never thrown.
   */
  readonly onUnauthorized?: Effect.Effect<A, E, R> | undefined
  /**
   * How long one run of `onUnauthorized` may take.
   *
   * @default "30 seconds"
   */
  readonly refreshTimeout?: DurationInput.Input | undefined
  /**
   * After a run of `onUnauthorized` failed (an error, a defect, a timeout or
   * credentials it cannot use), how long a 401 on the same credentials gets
   * `false` at once instead of running the hook again. Credentials changed
   * with `set` end it at once.
   *
   * @default "5 seconds"
   */
  readonly refreshBackoff?: DurationInput.Input | undefined
}

/**
 * Options of `anthropic`.
 *
 * @category models
 * @since 0.1.0
 */
export interface AnthropicOptions<E = never, R = never>
  extends RefreshOptions<Redacted.Redacted<string> | string, E, R>
{
  /**
   * The `anthropic-version` header.
   *
   * @default "2023-06-01"
   */
  readonly version?: string | undefined
}

/**
 * The default `anthropic-version`.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultAnthropicVersion = "2023-06-01"

/**
 * The default bound on one run of a refresh hook.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultRefreshTimeout: Duration.Duration = Duration.seconds(30)

/**
 * The default time a failed refresh is remembered for its credentials.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultRefreshBackoff: Duration.Duration = Duration.seconds(5)

/**
 * The `Auth`s whose refresh hook runs in this fiber (opaque identities),
 * set by an `Auth` while its hook runs. A call made from inside a hook (the
 * token request, sent through the same client) finds its own `Auth` here,
 * and `refresh` answers it `false` at once: its 401 never waits on the run
 * it belongs to. Read it, never set it.
 *
 * @category services
 * @since 0.1.0
 */
export const Refreshing: Context.Reference<ReadonlySet<object>> = Context.Reference<ReadonlySet<object>>(
  "@httpkit/client/Auth/Refreshing",
  { defaultValue: () => new Set<object>() }
)

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

/**
 * Credentials were refused before anything was sent: a header name that is
 * not an HTTP token, a value that is empty or holds CR, LF, NUL or another
 * control character, or a name given twice; or a `refreshTimeout` that is no
 * duration; or an `onUnauthorized` that is not an `Effect`
 * (`invalid-refresh-hook`). Neither the value nor an invalid name is kept; `header` is
 * there only when the name is valid, `position` is the header's index.
 * `problems` names the setting at fault (`headers.authorization`,
 * `headers[2]` for a name that is not shown, `refreshTimeout`), the value
 * where it may be shown (an empty one, a timeout), and what is expected; the
 * message is `invalid auth configuration: <setting> is <received>, expected
 * <expected>` (`@httpkit/core/ConfigProblem`).
 *
 * @category errors
 * @since 0.1.0
 */
export class AuthConfigError extends Own.fields(
  Schema.TaggedError<AuthConfigError>()("AuthConfigError", {
    reason: Schema.Literals([
      "invalid-header-name",
      "invalid-header-value",
      "empty-header-value",
      "duplicate-header-name",
      "invalid-refresh-timeout",
      "invalid-refresh-backoff",
      "invalid-refresh-hook"
    ]),
    /** The lower-case header name, when it is a valid token. */
    header: Schema.optionalKey(Schema.String),
    /** The index of the offending header in what was given. */
    position: Schema.optionalKey(Schema.Number),
    /** The setting at fault, without a secret. */
    problems: Schema.Array(ConfigProblem.ConfigProblem)
  })
) {
  override get message(): string {
    return ConfigProblem.message("auth configuration", this.problems)
  }
}

/** What a header name must be. */
const tokenExpected = "a header name that is an HTTP token (letters, digits and !#$%&'*+.^_`|~-, no spaces)"

/** The error for a refused header, its problem named by the header (or its position when the name is not shown). */
const headerError = (
  reason: "invalid-header-name" | "invalid-header-value" | "empty-header-value" | "duplicate-header-name",
  header: string | undefined,
  position: number
): AuthConfigError => {
  const setting = header === undefined ? `headers[${position}]` : `headers.${header}`
  const problem: ConfigProblem.ConfigProblem = reason === "invalid-header-name"
    ? { setting, expected: tokenExpected }
    : reason === "invalid-header-value"
    ? { setting, expected: "a header value without CR, LF, NUL, other control characters or characters above U+00FF" }
    : reason === "empty-header-value"
    ? { setting, received: "\"\"", expected: "a header value that is not empty" }
    : { setting, received: `given again at position ${position}`, expected: "each header name once (in any case)" }
  return new AuthConfigError({
    reason,
    ...(header === undefined ? {} : { header }),
    position,
    problems: [problem]
  })
}

// -----------------------------------------------------------------------------
// validation
// -----------------------------------------------------------------------------

const reveal = (value: Redacted.Redacted<string> | string): string =>
  typeof value === "string" ? value : Redacted.value(value)

const checkValue = (
  value: string,
  header: string | undefined,
  position: number
): AuthConfigError | undefined => {
  if (value.length === 0) return headerError("empty-header-value", header, position)
  if (HeaderSyntax.invalidValue.test(value)) return headerError("invalid-header-value", header, position)
  return undefined
}

const normalize = (input: HeadersInput): Result.Result<ReadonlyArray<Header>, AuthConfigError> => {
  const out: Array<Header> = []
  const seen = new Set<string>()
  for (let position = 0; position < input.length; position++) {
    const [rawName, rawValue] = input[position]!
    if (typeof rawName !== "string" || !HeaderSyntax.token.test(rawName)) {
      return Result.fail(headerError("invalid-header-name", undefined, position))
    }
    const name = rawName.toLowerCase()
    if (seen.has(name)) {
      return Result.fail(headerError("duplicate-header-name", name, position))
    }
    seen.add(name)
    const value = reveal(rawValue)
    const error = checkValue(value, name, position)
    if (error !== undefined) return Result.fail(error)
    out.push(Object.freeze([name, Redacted.isRedacted(rawValue) ? rawValue : Redacted.make(value)] as const))
  }
  return Result.succeed(Object.freeze(out))
}

const bearerValue = (token: Redacted.Redacted<string> | string): Result.Result<string, AuthConfigError> => {
  const value = reveal(token)
  const error = checkValue(value, "authorization", 0)
  return error === undefined ? Result.succeed(`Bearer ${value}`) : Result.fail(error)
}

const replaceHeader = (
  current: ReadonlyArray<Header>,
  name: string,
  value: Redacted.Redacted<string> | string
): HeadersInput => {
  const found = current.some(([n]) => n === name)
  return found
    ? current.map(([n, v]) => n === name ? [n, value] as const : [n, v] as const)
    : [...current, [name, value] as const]
}

const recordToInput = (record: Readonly<Record<string, Redacted.Redacted<string> | string>>): HeadersInput =>
  Object.entries(record)

// -----------------------------------------------------------------------------
// the core
// -----------------------------------------------------------------------------

/** How a hook's answer becomes the next credentials, given the current ones. */
type Update = (current: ReadonlyArray<Header>) => Result.Result<HeadersInput, AuthConfigError>

interface Inflight {
  readonly generation: number
  readonly deferred: Deferred.Deferred<boolean>
}

/** A failed run, remembered for the generation it tried to replace. */
interface Failed {
  readonly generation: number
  /** Until when (`Clock` milliseconds) a 401 on that generation gets `false` at once. */
  readonly until: number
}

interface State {
  readonly snapshot: Snapshot
  readonly inflight: Inflight | undefined
  readonly failed: Failed | undefined
}

type Decision =
  | { readonly _tag: "Done"; readonly value: boolean }
  | { readonly _tag: "Await"; readonly deferred: Deferred.Deferred<boolean> }
  | { readonly _tag: "Start"; readonly generation: number; readonly deferred: Deferred.Deferred<boolean> }

/** The error's tag and message, never the error itself (a primitive error may be the secret). */
const describeError = (error: unknown): { readonly tag: string; readonly message: string } => {
  if (typeof error === "object" && error !== null) {
    const tag = "_tag" in error && typeof error._tag === "string"
      ? error._tag
      : error instanceof Error
      ? error.name
      : "unknown"
    const message = "message" in error && typeof error.message === "string" ? error.message : ""
    return { tag, message }
  }
  return { tag: typeof error, message: "" }
}

const secretsOf = (headers: ReadonlyArray<Header>): Array<string> => {
  const out: Array<string> = []
  for (const [, value] of headers) {
    const text = Redacted.value(value)
    out.push(text)
    const space = text.indexOf(" ")
    if (space > 0 && space < text.length - 1) out.push(text.slice(space + 1))
  }
  return out
}

const scrub = (text: string, secrets: ReadonlyArray<string>): string => {
  let out = text
  for (const secret of secrets.toSorted((a, b) => b.length - a.length)) {
    if (secret.length > 0) out = out.split(secret).join(Redact.redacted)
  }
  return out
}

const makeCore = <E, R>(
  kind: string,
  initial: ReadonlyArray<Header>,
  hook: Effect.Effect<Update, E, R> | undefined,
  timeout: Duration.Input,
  backoffMillis: number
): Effect.Effect<Auth, never, R> =>
  Effect.gen(function*() {
    const context = yield* Effect.context<R>()
    const secretHeaderNames = new Set(initial.map(([name]) => name))
    const state = yield* Ref.make<State>({
      snapshot: Object.freeze({ headers: initial, generation: 0 }),
      inflight: undefined,
      failed: undefined
    })
    // This Auth's identity in `Refreshing` while its hook runs.
    const identity = {}

    const finish = (deferred: Deferred.Deferred<boolean>, f: (snapshot: Snapshot) => readonly [boolean, Snapshot]) =>
      Ref.modify(state, (s): readonly [boolean, State] => {
        const [value, snapshot] = f(s.snapshot)
        return [value, { ...s, snapshot, inflight: s.inflight?.deferred === deferred ? undefined : s.inflight }]
      })

    /** Ends a failed run of `generation`: remembered for `backoffMillis`, its waiters released with `false`. */
    const failed = (deferred: Deferred.Deferred<boolean>, generation: number) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Ref.modify(state, (s): readonly [boolean, State] => [false, {
          ...s,
          inflight: s.inflight?.deferred === deferred ? undefined : s.inflight,
          failed: s.snapshot.generation === generation ? { generation, until: now + backoffMillis } : s.failed
        }])).pipe(Effect.flatMap((value) => Deferred.succeed(deferred, value)))

    const logFailure = (reason: string, error: unknown, secrets: ReadonlyArray<string>) => {
      const { message, tag } = describeError(error)
      // Known secrets first, then whatever looks like one: a URL's user-info and query, `client_secret=...`.
      const detail = Redact.text(scrub(message, secrets))
      return Effect.logWarning(
        `ClientAuth (${kind}): refresh failed (${reason})${tag === "" ? "" : `: ${tag}`}${
          detail === "" ? "" : `: ${detail}`
        }; the old credentials stay in place`
      ).pipe(Effect.annotateLogs({ "auth.kind": kind, "auth.refresh": reason, "error.tag": tag }))
    }

    const run = (
      update: Effect.Effect<Update, E, R>,
      started: number,
      deferred: Deferred.Deferred<boolean>
    ): Effect.Effect<void> =>
      update.pipe(
        Effect.provideContext(context),
        // Marks the hook's fiber: a request it makes never waits on (or starts) this refresh.
        Effect.updateService(Refreshing, (running) => new Set([...running, identity])),
        Effect.timeout(timeout),
        Effect.exit,
        Effect.flatMap((exit) =>
          Effect.gen(function*() {
            const secrets = secretsOf((yield* Ref.get(state)).snapshot.headers)
            if (Exit.isFailure(exit)) {
              const error = Cause.findErrorOption(exit.cause)
              if (error._tag === "Some") {
                yield* logFailure(Cause.isTimeoutError(error.value) ? "timeout" : "failure", error.value, secrets)
              } else {
                const defect = Cause.findDefect(exit.cause)
                yield* logFailure(
                  Result.isSuccess(defect) ? "defect" : "interrupted",
                  Result.isSuccess(defect) ? defect.success : undefined,
                  secrets
                )
                // An interrupted hook says nothing about the credentials: not remembered.
                if (Result.isFailure(defect)) {
                  return yield* Deferred.succeed(deferred, yield* finish(deferred, (snapshot) => [false, snapshot]))
                }
              }
              return yield* failed(deferred, started)
            }
            const next = Result.flatMap(exit.value((yield* Ref.get(state)).snapshot.headers), normalize)
            if (Result.isFailure(next)) {
              yield* logFailure("invalid", next.failure, secrets)
              return yield* failed(deferred, started)
            }
            for (const [name] of next.success) secretHeaderNames.add(name)
            const value = yield* finish(deferred, (snapshot) =>
              snapshot.generation === started
                // the credentials this run replaces are still in place
                ? [true, Object.freeze({ headers: next.success, generation: started + 1 })]
                // `set` replaced them meanwhile: the explicit ones win
                : [true, snapshot])
            yield* Deferred.succeed(deferred, value)
          })
        ),
        Effect.asVoid,
        // whatever happens (even interruption), waiters are released and the slot freed
        Effect.ensuring(Effect.suspend(() => release(deferred)))
      )

    /** Frees the slot of a run and releases its waiters with `false`, unless the run already did. */
    const release = (deferred: Deferred.Deferred<boolean>): Effect.Effect<void> =>
      finish(deferred, (snapshot) => [false, snapshot]).pipe(
        Effect.flatMap((value) => Deferred.succeed(deferred, value)),
        Effect.asVoid
      )

    // The scope of the layer that built this `Auth`, if any: while it is open a refresh runs in it, so closing the
    // layer interrupts a hook still running (it never outlives the client). Without one, or once it closed (an
    // Auth layer provided to `ResilientClient.make` only), the run is detached, bounded by `refreshTimeout`.
    const scope = Context.getOption(context as Context.Context<unknown>, Scope.Scope)
    const fork = (effect: Effect.Effect<void>) =>
      scope._tag === "Some" && scope.value.state._tag !== "Closed"
        ? Effect.forkIn(effect, scope.value)
        : Effect.forkDetach(effect)

    const refresh = hook === undefined
      // without a hook, only a `set` since the attempt can bring newer credentials
      ? (generation: number): Effect.Effect<boolean> =>
        Effect.map(Ref.get(state), (s) => generation < s.snapshot.generation)
      : (generation: number): Effect.Effect<boolean> =>
        Effect.uninterruptibleMask((restore) =>
          Effect.withFiber((self) => {
            // A request of this Auth's own hook: waiting would wait on itself, starting would recurse.
            if (self.getRef(Refreshing).has(identity)) return Effect.succeed<Decision>({ _tag: "Done", value: false })
            const now = self.getRef(Clock.Clock).currentTimeMillisUnsafe()
            return Ref.modify(state, (s): readonly [Decision, State] => {
              if (generation < s.snapshot.generation) return [{ _tag: "Done", value: true }, s]
              if (s.inflight !== undefined && s.inflight.generation === s.snapshot.generation) {
                return [{ _tag: "Await", deferred: s.inflight.deferred }, s]
              }
              // The refresh of these credentials failed a moment ago: the same answer, without asking again.
              if (s.failed !== undefined && s.failed.generation === s.snapshot.generation && now < s.failed.until) {
                return [{ _tag: "Done", value: false }, s]
              }
              const deferred = Deferred.makeUnsafe<boolean>()
              const inflight = { generation: s.snapshot.generation, deferred }
              return [{ _tag: "Start", generation: s.snapshot.generation, deferred }, { ...s, inflight }]
            })
          }).pipe(Effect.flatMap((decision) => {
            switch (decision._tag) {
              case "Done":
                return Effect.succeed(decision.value)
              case "Await":
                return restore(Deferred.await(decision.deferred))
              case "Start":
                return fork(run(hook, decision.generation, decision.deferred)).pipe(
                  // A scope closed meanwhile never starts the run: its waiters are released here.
                  Effect.flatMap((fiber) => restore(Fiber.await(fiber))),
                  Effect.andThen(release(decision.deferred)),
                  Effect.andThen(restore(Deferred.await(decision.deferred)))
                )
            }
          }))
        )

    // Not on the per-request path, so it gets a span (never with the credentials as attributes).
    const set = Effect.fn("ClientAuth.set")(function*(input: HeadersInput) {
      const next = normalize(input)
      if (Result.isFailure(next)) return yield* next.failure
      for (const [name] of next.success) secretHeaderNames.add(name)
      yield* Ref.update(state, (s) => ({
        ...s,
        snapshot: Object.freeze({ headers: next.success, generation: s.snapshot.generation + 1 })
      }))
    })

    return withDescription({
      current: Effect.map(Ref.get(state), (s) => s.snapshot),
      refresh,
      set,
      secretHeaderNames
    }, kind)
  })

/** Adds `toString`, `toJSON` and inspection that show the kind and header names, never a value. */
const withDescription = (auth: Auth, kind: string): Auth => {
  const toJSON = () => ({ _id: "ClientAuth", kind, headers: [...auth.secretHeaderNames] })
  return {
    ...auth,
    toJSON,
    toString: () => `ClientAuth(${kind}: ${[...auth.secretHeaderNames].join(", ")})`,
    [NodeInspectSymbol]: toJSON
  } as Auth
}

const fromInput = <A, E, R>(
  kind: string,
  input: HeadersInput,
  options: RefreshOptions<A, E, R> | undefined,
  toUpdate: (value: A) => Update
): Effect.Effect<Auth, AuthConfigError, R> =>
  Effect.suspend(() => {
    const headers = normalize(input)
    if (Result.isFailure(headers)) return Effect.fail(headers.failure)
    // Own keys only: a refresh hook or timeout on `Object.prototype` is nobody's (RELIABILITY 10).
    const onUnauthorized = own(options, "onUnauthorized")
    // An effect, not a function or a Promise: run as one, anything else would end the refresh's fiber past every
    // handler (Effect's "Not a valid effect"), so it is refused here, where the mistake is made.
    if (onUnauthorized !== undefined && !Effect.isEffect(onUnauthorized)) {
      UserHook.settle(onUnauthorized)
      return Effect.fail(
        new AuthConfigError({
          reason: "invalid-refresh-hook",
          problems: [{
            setting: "onUnauthorized",
            received: UserHook.describe(onUnauthorized),
            expected: "an Effect that obtains new credentials (a function or a Promise is not one: Effect.promise)"
          }]
        })
      )
    }
    const hook = onUnauthorized === undefined ? undefined : Effect.map(onUnauthorized, toUpdate)
    const refreshTimeout = own(options, "refreshTimeout")
    const millis = refreshTimeout === undefined
      ? Duration.toMillis(defaultRefreshTimeout)
      : DurationInput.fromInput(refreshTimeout)
    if (millis === undefined) {
      return Effect.fail(
        new AuthConfigError({
          reason: "invalid-refresh-timeout",
          problems: [DurationInput.problem("refreshTimeout", refreshTimeout)]
        })
      )
    }
    const refreshBackoff = own(options, "refreshBackoff")
    const backoff = refreshBackoff === undefined
      ? Duration.toMillis(defaultRefreshBackoff)
      : DurationInput.fromInput(refreshBackoff)
    if (backoff === undefined) {
      return Effect.fail(
        new AuthConfigError({
          reason: "invalid-refresh-backoff",
          problems: [DurationInput.problem("refreshBackoff", refreshBackoff)]
        })
      )
    }
    return makeCore(kind, headers.success, hook, millis, backoff)
  })

// -----------------------------------------------------------------------------
// constructors
// -----------------------------------------------------------------------------

/**
 * No credentials. `set` can add some later.
 *
 * @category constructors
 * @since 0.1.0
 */
export const none: Effect.Effect<Auth> = makeCore("none", [], undefined, defaultRefreshTimeout, 0)

/**
 * `authorization: Bearer <token>`. On refresh, the token `onUnauthorized`
 * returns replaces the old one (other headers added with `set` stay).
 *
 * @category constructors
 * @since 0.1.0
 */
export const bearer = <E = never, R = never>(
  token: Redacted.Redacted<string> | string,
  options?: RefreshOptions<Redacted.Redacted<string> | string, E, R>
): Effect.Effect<Auth, AuthConfigError, R> =>
  Effect.suspend(() => {
    const value = bearerValue(token)
    if (Result.isFailure(value)) return Effect.fail(value.failure)
    return fromInput(
      "bearer",
      [["authorization", Redacted.make(value.success)]],
      options,
      (fresh) => (current) =>
        Result.map(bearerValue(fresh), (header) => replaceHeader(current, "authorization", Redacted.make(header)))
    )
  })

/**
 * One header carrying an API key, such as `x-api-key`. On refresh, the key
 * `onUnauthorized` returns replaces the old one.
 *
 * @category constructors
 * @since 0.1.0
 */
export const apiKey = <E = never, R = never>(
  header: string,
  key: Redacted.Redacted<string> | string,
  options?: RefreshOptions<Redacted.Redacted<string> | string, E, R>
): Effect.Effect<Auth, AuthConfigError, R> =>
  fromInput(
    "apiKey",
    [[header, key]],
    options,
    (fresh) => (current) => Result.succeed(replaceHeader(current, header.toLowerCase(), fresh))
  )

/**
 * Anthropic's `x-api-key` and `anthropic-version`. On refresh, the key
 * `onUnauthorized` returns replaces the old one; the version stays.
 *
 * @category constructors
 * @since 0.1.0
 */
export const anthropic = <E = never, R = never>(
  key: Redacted.Redacted<string> | string,
  options?: AnthropicOptions<E, R>
): Effect.Effect<Auth, AuthConfigError, R> =>
  fromInput(
    "anthropic",
    [["x-api-key", key], ["anthropic-version", Redacted.make(own(options, "version") ?? defaultAnthropicVersion)]],
    options,
    (fresh) => (current) => Result.succeed(replaceHeader(current, "x-api-key", fresh))
  )

/**
 * Custom headers, all treated as secret, sent in the record's order. On
 * refresh, the record `onUnauthorized` returns replaces them all.
 *
 * @category constructors
 * @since 0.1.0
 */
export const headers = <E = never, R = never>(
  record: Readonly<Record<string, Redacted.Redacted<string> | string>>,
  options?: RefreshOptions<Readonly<Record<string, Redacted.Redacted<string> | string>>, E, R>
): Effect.Effect<Auth, AuthConfigError, R> =>
  fromInput("headers", recordToInput(record), options, (fresh) => () => Result.succeed(recordToInput(fresh)))

// -----------------------------------------------------------------------------
// service
// -----------------------------------------------------------------------------

/**
 * The client's credentials, one of the client's plug-ins: a client looks it
 * up in its context when it is built (`ResilientClient.layer`, `make`), and
 * sends no credentials when it finds none. Provide it with one of the layers
 * below.
 *
 * @category services
 * @since 0.1.0
 */
export class ClientAuth extends Context.Service<ClientAuth, Auth>()("@httpkit/client/ClientAuth") {}

// -----------------------------------------------------------------------------
// layers
// -----------------------------------------------------------------------------

/**
 * Provides `ClientAuth` from any `Auth` constructor.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = <E = never, R = never>(auth: Effect.Effect<Auth, E, R>): Layer.Layer<ClientAuth, E, R> =>
  Layer.effect(ClientAuth, auth)

/**
 * `ClientAuth` with no credentials yet, whose `set` works.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerNone: Layer.Layer<ClientAuth> = layer(none)

/**
 * `ClientAuth` from `bearer`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerBearer = <E = never, R = never>(
  token: Redacted.Redacted<string> | string,
  options?: RefreshOptions<Redacted.Redacted<string> | string, E, R>
): Layer.Layer<ClientAuth, AuthConfigError, R> => layer(bearer(token, options))

/**
 * `ClientAuth` from `bearer`, the token read from `Config`, e.g.
 * `layerBearerConfig(Config.Redacted("API_TOKEN"))`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerBearerConfig = <E = never, R = never>(
  token: Config.Config<Redacted.Redacted<string> | string>,
  options?: RefreshOptions<Redacted.Redacted<string> | string, E, R>
): Layer.Layer<ClientAuth, AuthConfigError | Config.ConfigError, R> =>
  layer(Effect.flatMap(token, (value) => bearer(value, options)))

/**
 * `ClientAuth` from `apiKey`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerApiKey = <E = never, R = never>(
  header: string,
  key: Redacted.Redacted<string> | string,
  options?: RefreshOptions<Redacted.Redacted<string> | string, E, R>
): Layer.Layer<ClientAuth, AuthConfigError, R> => layer(apiKey(header, key, options))

/**
 * `ClientAuth` from `apiKey`, the key read from `Config`, e.g.
 * `layerApiKeyConfig("x-api-key", Config.Redacted("API_KEY"))`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerApiKeyConfig = <E = never, R = never>(
  header: string,
  key: Config.Config<Redacted.Redacted<string> | string>,
  options?: RefreshOptions<Redacted.Redacted<string> | string, E, R>
): Layer.Layer<ClientAuth, AuthConfigError | Config.ConfigError, R> =>
  layer(Effect.flatMap(key, (value) => apiKey(header, value, options)))

/**
 * `ClientAuth` from `anthropic`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerAnthropic = <E = never, R = never>(
  key: Redacted.Redacted<string> | string,
  options?: AnthropicOptions<E, R>
): Layer.Layer<ClientAuth, AuthConfigError, R> => layer(anthropic(key, options))

/**
 * `ClientAuth` from `anthropic`, the key read from `Config`, e.g.
 * `layerAnthropicConfig(Config.Redacted("ANTHROPIC_API_KEY"))`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerAnthropicConfig = <E = never, R = never>(
  key: Config.Config<Redacted.Redacted<string> | string>,
  options?: AnthropicOptions<E, R>
): Layer.Layer<ClientAuth, AuthConfigError | Config.ConfigError, R> =>
  layer(Effect.flatMap(key, (value) => anthropic(value, options)))

/**
 * `ClientAuth` from `headers`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerHeaders = <E = never, R = never>(
  record: Readonly<Record<string, Redacted.Redacted<string> | string>>,
  options?: RefreshOptions<Readonly<Record<string, Redacted.Redacted<string> | string>>, E, R>
): Layer.Layer<ClientAuth, AuthConfigError, R> => layer(headers(record, options))

/**
 * `ClientAuth` from `headers`, the record read from `Config`, e.g.
 * `layerHeadersConfig(Config.all({ "x-tenant-key": Config.Redacted("TENANT_KEY") }))`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerHeadersConfig = <E = never, R = never>(
  record: Config.Config<Readonly<Record<string, Redacted.Redacted<string> | string>>>,
  options?: RefreshOptions<Readonly<Record<string, Redacted.Redacted<string> | string>>, E, R>
): Layer.Layer<ClientAuth, AuthConfigError | Config.ConfigError, R> =>
  layer(Effect.flatMap(record, (value) => headers(value, options)))
