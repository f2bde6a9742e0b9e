/**
 * A small client for the fault-injection server's control routes: arm and
 * disarm failures, reset the server, read its request log, rotate the bearer
 * token, read the rate-limit counters. For tests, examples and scripts that
 * hold the server's URL, so none of them builds those URLs or decodes that
 * JSON by hand.
 *
 * ```ts
 * const control = ServerControl.make(server.url)      // or a URL from `pnpm test-server`
 * yield* control.reset
 * yield* control.failNext(2, { status: 503 })          // the next 2 requests to /msg answer 503
 * yield* http.get(server.urlFor("/msg"))
 * const attempts = yield* control.requestsTo("/msg")   // what crossed the wire
 * ```
 *
 * **Details**
 *
 * - Control requests go through an `HttpClient` of their own (Effect's fetch
 *   client unless `options.client` is given), never through the client under
 *   test: arming a failure does not touch its retries, breaker or metrics, and
 *   makes no span.
 * - Every call answers or fails with `ServerControlError` (the server could
 *   not be reached, answered an error status, answered something that does
 *   not decode, or did not answer within `options.timeout`, 10 s by default:
 *   a server that accepts and never answers fails the call, it does not hang).
 *
 * **Gotchas**
 *
 * - `failNext`, `clearFailures`, `rotateToken`, `token` and `rateLimitStats`
 *   are ordinary requests, so they appear in the request log; `reset` and
 *   `requests` do not.
 * - A TLS server with a self-signed certificate needs `options.client`: an
 *   `HttpClient` that trusts it.
 *
 * @since 0.1.0
 */
import * as Redact from "@httpkit/core/Redact"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientResponse from "effect/http/HttpClientResponse"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { type RecordedRequest, RecordedRequests } from "./RecordedRequest.ts"
import { TestServer } from "./TestServer.ts"

// -----------------------------------------------------------------------------
// Models
// -----------------------------------------------------------------------------

/**
 * How the next requests to `/msg` fail (`POST /fail/count/:n`).
 *
 * @category models
 * @since 0.1.0
 */
export interface FailureOptions {
  /**
   * The status they answer, 200 to 599.
   *
   * @default 503
   */
  readonly status?: number | undefined
  /** Sent verbatim as `Retry-After`: seconds, an HTTP-date, or anything malformed a test needs. */
  readonly retryAfter?: string | number | undefined
  /** Sent verbatim as `retry-after-ms`. */
  readonly retryAfterMs?: string | number | undefined
}

/**
 * The server's bearer token (`/auth/token`, `/auth/rotate`).
 *
 * @category models
 * @since 0.1.0
 */
export interface Token {
  readonly token: string
  /** 1 after a reset, one more after each rotation. */
  readonly generation: number
}

/**
 * What `/ratelimit` admitted and refused for one key.
 *
 * @category models
 * @since 0.1.0
 */
export interface RateLimitStats {
  readonly key: string
  readonly allowed: number
  readonly refused: number
}

/**
 * Options of `make`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /**
   * The `HttpClient` control requests go through.
   *
   * @default Effect's fetch client (`FetchHttpClient`)
   */
  readonly client?: HttpClient.HttpClient | undefined
  /**
   * How long one control request may take, answer and body included; past it
   * the call fails with `ServerControlError` naming the URL and this timeout.
   *
   * @default "10 seconds"
   */
  readonly timeout?: Duration.Input | undefined
}

/**
 * How long a control request may take unless `Options.timeout` says otherwise.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultTimeout: Duration.Duration = Duration.seconds(10)

/**
 * A control request failed: the server could not be reached, answered an
 * error status (`status`), answered something that does not decode, or did
 * not answer within the timeout (`timeout`, with `url`).
 *
 * @category errors
 * @since 0.1.0
 */
export class ServerControlError extends Data.TaggedError("ServerControlError")<{
  /** The control route, for example `POST /fail/count/2`. */
  readonly operation: string
  /** The status the server answered, when it answered one other than 2xx. */
  readonly status?: number | undefined
  /** The URL asked (credentials redacted), when the request timed out. */
  readonly url?: string | undefined
  /** The deadline that passed, when the request timed out. */
  readonly timeout?: Duration.Duration | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    if (this.timeout !== undefined) {
      return `${this.operation} failed: no answer from ${this.url} within ${Duration.format(this.timeout)}`
    }
    return this.status === undefined
      ? `${this.operation} failed: ${describe(this.cause)}`
      : `${this.operation} answered ${this.status}`
  }
}

const describe = (cause: unknown): string =>
  cause instanceof Error ? cause.message : typeof cause === "string" ? cause : "no answer"

/**
 * The control routes of one fault-injection server.
 *
 * @category services
 * @since 0.1.0
 */
export class ServerControl extends Context.Service<ServerControl, {
  /** The server's base URL, without a trailing slash. */
  readonly url: string
  /** Makes the next `count` requests to `/msg` fail as `options` say (`POST /fail/count/:n`). */
  readonly failNext: (count: number, options?: FailureOptions) => Effect.Effect<void, ServerControlError>
  /** Disarms the failures armed by `failNext` (`POST /fail/reset`). */
  readonly clearFailures: Effect.Effect<void, ServerControlError>
  /** Clears the request log and every switch (`POST /__reset`). */
  readonly reset: Effect.Effect<void, ServerControlError>
  /** The request log, oldest first (`GET /__requests`). */
  readonly requests: Effect.Effect<ReadonlyArray<RecordedRequest>, ServerControlError>
  /** The request log for one path (without the query), oldest first; `method` narrows it further. */
  readonly requestsTo: (
    path: string,
    method?: string
  ) => Effect.Effect<ReadonlyArray<RecordedRequest>, ServerControlError>
  /** The current bearer token (`GET /auth/token`). */
  readonly token: Effect.Effect<Token, ServerControlError>
  /** Replaces the bearer token with `token`, or with `token-<generation>` (`POST /auth/rotate`). */
  readonly rotateToken: (token?: string) => Effect.Effect<Token, ServerControlError>
  /** What `/ratelimit` admitted and refused for `key` (`GET /ratelimit/stats`). */
  readonly rateLimitStats: (key: string) => Effect.Effect<RateLimitStats, ServerControlError>
}>()("@httpkit/testing/ServerControl") {}

// -----------------------------------------------------------------------------
// Constructors
// -----------------------------------------------------------------------------

const TokenJson = Schema.Struct({ token: Schema.String, token_generation: Schema.Number })
const StatsJson = Schema.Struct({ key: Schema.String, allowed: Schema.Number, refused: Schema.Number })

/**
 * A control client for the server at `url` (its base URL, as
 * `TestServer.url` or the first line of `pnpm test-server` gives it).
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (url: string, options: Options = {}): ServerControl["Service"] => {
  const base = url.replace(/\/+$/, "")
  const given = options.client
  const timeout = options.timeout === undefined ? defaultTimeout : Duration.fromInputUnsafe(options.timeout)
  const withClient = <A, E>(effect: Effect.Effect<A, E, HttpClient.HttpClient>): Effect.Effect<A, E> =>
    given === undefined
      ? Effect.provide(effect, FetchHttpClient.layer)
      : Effect.provideService(effect, HttpClient.HttpClient, given)

  /** Sends one control request and decodes its JSON answer with `schema`. */
  const send = <S extends Schema.ConstraintDecoder<unknown>>(
    method: "GET" | "POST",
    path: string,
    query: Readonly<Record<string, string | number | undefined>>,
    schema: S
  ): Effect.Effect<S["Type"], ServerControlError> => {
    const target = new URL(`${base}${path}`)
    for (const [name, value] of Object.entries(query)) {
      if (value !== undefined) target.searchParams.set(name, String(value))
    }
    const operation = `${method} ${path}`
    return HttpClient.HttpClient.pipe(
      Effect.map(HttpClient.filterStatusOk),
      Effect.flatMap((client) => method === "GET" ? client.get(target) : client.post(target)),
      Effect.flatMap(HttpClientResponse.schemaBodyJson(schema)),
      withClient,
      Effect.mapError((cause) =>
        new ServerControlError({
          operation,
          status: cause._tag === "HttpClientError" && cause.response !== undefined
            ? cause.response.status
            : undefined,
          cause
        })
      ),
      Effect.timeoutOrElse({
        duration: timeout,
        orElse: () => Effect.fail(new ServerControlError({ operation, url: Redact.url(target), timeout }))
      }),
      Effect.provideService(HttpClient.TracerDisabledWhen, () => true)
    )
  }

  const requests = send("GET", "/__requests", {}, RecordedRequests)
  const toToken = ({ token, token_generation }: typeof TokenJson.Type): Token => ({
    token,
    generation: token_generation
  })

  return {
    url: base,
    failNext: (count, failure = {}) =>
      Effect.asVoid(send("POST", `/fail/count/${count}`, {
        status: failure.status,
        retry_after: failure.retryAfter,
        retry_after_ms: failure.retryAfterMs
      }, Schema.Unknown)),
    clearFailures: Effect.asVoid(send("POST", "/fail/reset", {}, Schema.Unknown)),
    reset: Effect.asVoid(send("POST", "/__reset", {}, Schema.Unknown)),
    requests,
    requestsTo: (path, method) =>
      Effect.map(
        requests,
        (log) =>
          log.filter((entry) => entry.path === path && (method === undefined || entry.method === method.toUpperCase()))
      ),
    token: Effect.map(send("GET", "/auth/token", {}, TokenJson), toToken),
    rotateToken: (token) => Effect.map(send("POST", "/auth/rotate", { token }, TokenJson), toToken),
    rateLimitStats: (key) => send("GET", "/ratelimit/stats", { key }, StatsJson)
  }
}

// -----------------------------------------------------------------------------
// Layers
// -----------------------------------------------------------------------------

/**
 * `ServerControl` for the server at `url`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (url: string, options?: Options): Layer.Layer<ServerControl> =>
  Layer.succeed(ServerControl, make(url, options))

/**
 * `ServerControl` for the `TestServer` in context.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerTestServer: Layer.Layer<ServerControl, never, TestServer> = Layer.effect(
  ServerControl,
  Effect.map(TestServer, (server) => make(server.url))
)
