/**
 * The options of one call of `ResilientClient`: query, headers, body,
 * deadlines, retries, idempotency key, request id, accepted statuses, the
 * rate limiter's key and cost, and whether the call is traced; and undici's
 * own request options, which a call finds in its context (`UndiciOptions`).
 *
 * @since 0.1.0
 */
import type * as DurationInput from "@httpkit/core/DurationInput"
import * as Context from "effect/Context"
import type * as HttpBody from "effect/http/HttpBody"
import type * as Schedule from "effect/Schedule"
import type * as Undici from "undici"
import type { ClientError } from "./ClientError.ts"

/**
 * The options of one call, as every method of `ResilientClient` takes them.
 * Only own keys are read (a polluted `Object.prototype` changes no request);
 * `timeout` and `retry.maxAttempts` are checked by the same field schemas
 * as the client's configuration (`ClientConfig.CallOptions`).
 *
 * @category models
 * @since 0.1.0
 */
export interface RequestOptions {
  readonly query?: Readonly<Record<string, string | number | boolean | ReadonlyArray<string>>> | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
  readonly json?: unknown
  /**
   * The request body, or a function that makes a fresh one for every send. A
   * body that can be read only once (a stream) is sent again, by a retry or a
   * 307/308 redirect, only when it is given as a function (or was never read);
   * otherwise that resend fails with `BodyNotReplayableError`.
   */
  readonly body?: HttpBody.HttpBody | (() => HttpBody.HttpBody) | undefined
  /**
   * The call's own deadlines, each replacing the client's: milliseconds, a
   * duration as people write it (`"20s"`, `"250ms"`, `"1.5 min"`, Effect's
   * `"5 seconds"`) or a `Duration` (`@httpkit/core/DurationInput`); a value
   * that is none of them fails the call with the problem named
   * (`timeout.total is "soon", expected a duration such as 250ms, ...`).
   */
  readonly timeout?: {
    readonly headers?: DurationInput.Input | undefined
    readonly idle?: DurationInput.Input | undefined
    readonly attempt?: DurationInput.Input | undefined
    readonly total?: DurationInput.Input | undefined
  } | undefined
  /** `false`: one attempt only; otherwise the call's own attempts in all, or its own retry `Schedule`. */
  readonly retry?: false | {
    readonly maxAttempts?: number | undefined
    readonly schedule?: Schedule.Schedule<unknown, ClientError> | undefined
  } | undefined
  /** An idempotency key for this call (not blank: `""` or spaces are `InvalidRequestError`), or `true` to generate one. */
  readonly idempotencyKey?: string | true | undefined
  /** The request id (`X-Request-ID`) for this call; generated when absent. */
  readonly requestId?: string | undefined
  /** Statuses accepted as success; default 200-299. */
  readonly acceptStatus?: ((status: number) => boolean) | undefined
  /** For a rate limiter: this call's key (default: the limiter's, per host) and token cost (default 1). */
  readonly rateLimit?: { readonly key?: string | undefined; readonly tokens?: number | undefined } | undefined
  /**
   * `false`: this call makes no span and sends no `traceparent`, though the client's `tracing` is on (a health
   * check polled every second, say). `true` cannot turn on what the client turned off.
   */
  readonly tracing?: boolean | undefined
}

/**
 * undici's own request options for every call made inside an effect, as
 * `@effect/platform-node`'s `NodeHttpClient.UndiciOptions`: provide them
 * around the calls with `Effect.provideService(UndiciOptions, { ... })`.
 * They are copied, own keys only, into each request the client's transport
 * sends.
 *
 * **Details**
 *
 * This is the same key as `NodeHttpClient.UndiciOptions`
 * (`"@effect/platform-node/NodeHttpClient/UndiciOptions"`), and Effect finds a
 * context value by its key: a value provided through either reference is the
 * value of both, so code written for Effect's undici client works unchanged
 * with `ResilientClient`. The client declares its own reference so that it
 * does not depend on `@effect/platform-node`, whose `redis` peer would
 * otherwise be installed for every user of the client.
 *
 * **Gotchas**
 *
 * The client sets `method`, `headers`, `origin`, `path`, `body` and `signal`
 * itself, and its dispatcher sets `headersTimeout` and `bodyTimeout` from the
 * call's deadlines (`timeout.headers`, `timeout.idle`): values given here for
 * those keys are overridden. A client built over an `HttpClient` of yours
 * (`ResilientClient.layerHttpClient`) passes them to whatever that client does
 * with them.
 *
 * @category services
 * @since 0.1.0
 */
export const UndiciOptions: Context.Reference<Partial<Undici.Dispatcher.RequestOptions<null>>> = Context.Reference<
  Partial<Undici.Dispatcher.RequestOptions<null>>
>("@effect/platform-node/NodeHttpClient/UndiciOptions", { defaultValue: () => ({}) })
