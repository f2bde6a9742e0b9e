/**
 * `ResilientClient`: the one HTTP client service an Effect application
 * provides once and sends every call through. Retries (a `Schedule`, honouring
 * `Retry-After` up to a ceiling), timeouts per phase, a circuit breaker per
 * origin, a bulkhead, request ids and idempotency keys that stay the same on
 * every attempt, auth with refresh on 401, cookie sessions, browser profiles,
 * safe redirects, bounded buffered reads, and one family of typed errors.
 *
 * ```ts
 * const program = Effect.gen(function*() {
 *   const client = yield* ResilientClient
 *   const user = yield* client.getJson("/users/1", User)
 * })
 * program.pipe(Effect.provide(ResilientClient.layer({ baseUrl: "https://api.example.com" })))
 * ```
 *
 * **Details**
 *
 * The pipeline runs, per call: request id and idempotency key, bulkhead,
 * circuit breaker (in memory by default, or Effect's `CircuitBreaker` over the
 * `CircuitBreakerStore` in context, such as Redis), then the retry loop, and
 * in each attempt the rate limit (`RateLimit`, which `@httpkit/rate-limiter`
 * provides), auth, profile and cookie headers, the per-attempt timeout,
 * the transport (Effect's `HttpClient` over undici), redirects and the status. Buffered
 * helpers (`json`, `text`, `getJson`) read the body inside the attempt, so a
 * body cut off mid-way is retried like any other transient failure.
 *
 * Each call is a span (`HTTP GET`, a child of the caller's) with a client
 * span per request sent under it and `traceparent` on that request, after
 * OpenTelemetry's HTTP conventions; `tracing: false` (the client's option or
 * a call's) makes none and sends none.
 *
 * Several differently configured clients live side by side: build each with
 * `make` under its own service key (see `layerAs`).
 *
 * **Gotchas**
 *
 * - POST and PATCH are retried only with an idempotency key (per call
 *   `idempotencyKey: true` or a string, per client `retry.idempotencyKeys`),
 *   or when the failure shows the request never reached the server.
 * - A `Retry-After` longer than `retry.retryAfterCeiling` fails at once with
 *   the server's error instead of sleeping.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Headers from "effect/http/Headers"
import * as HttpClient from "effect/http/HttpClient"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as CircuitBreaker from "effect/persistence/CircuitBreaker"
import type * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Auth from "./Auth.ts"
import * as BrowserProfile from "./BrowserProfile.ts"
import * as ClientConfig from "./ClientConfig.ts"
import { type ClientError, DecodeError, InvalidRequestError } from "./ClientError.ts"
import * as ClientMetrics from "./ClientMetrics.ts"
import * as CookieJar from "./CookieJar.ts"
import type { Received } from "./internal/attempt.ts"
import * as Body from "./internal/body.ts"
import * as Breaker from "./internal/breaker.ts"
import * as BreakerFailover from "./internal/breakerFailover.ts"
import * as Bulkhead from "./internal/bulkhead.ts"
import * as MemoryBreaker from "./internal/memoryBreaker.ts"
import * as Metrics from "./internal/metrics.ts"
import { own } from "./internal/own.ts"
import * as Pipeline from "./internal/pipeline.ts"
import * as Plugins from "./internal/plugins.ts"
import * as ByteRange from "./internal/range.ts"
import * as Transport from "./internal/transport.ts"
import * as RateLimitHook from "./RateLimitHook.ts"
import * as Redact from "./Redact.ts"
import type * as RequestOptionsModule from "./RequestOptions.ts"

/**
 * Per-call options (defined in the `RequestOptions` module).
 *
 * @category models
 * @since 0.1.0
 */
export type RequestOptions = RequestOptionsModule.RequestOptions

/**
 * A response whose status was accepted. Its body is read once, through one of
 * the readers; buffered readers stop at `maxBodyBytes`.
 *
 * @category models
 * @since 0.1.0
 */
export interface ClientResponse {
  readonly status: number
  readonly headers: Headers.Headers
  /** The final URL, after redirects. */
  readonly url: URL
  /** The `X-Request-ID` every attempt carried. */
  readonly requestId: string
  /** Which attempt succeeded (1 for the first). */
  readonly attempt: number
  /**
   * The body as text, at most `maxBodyBytes`. Like `json` and `bytes`, the read is bounded by the rest of
   * the attempt's deadline (`timeout.attempt`, or `timeout.total` when that comes first), even when it runs
   * after the call returned: a body that never finishes fails with `TimeoutError` (phase `attempt` or `total`).
   */
  readonly text: Effect.Effect<string, ClientError>
  /** The body parsed as JSON, at most `maxBodyBytes`, within the attempt's deadline (see `text`). */
  readonly json: Effect.Effect<unknown, ClientError>
  /** The body's bytes, at most `maxBodyBytes`, within the attempt's deadline (see `text`). */
  readonly bytes: Effect.Effect<Uint8Array, ClientError>
  /**
   * The body as a stream, for bodies of any size read at any pace: it is bounded only by the idle deadline
   * (`timeout.idle`) between chunks, never by the attempt's, and fails with `TimeoutError` (phase `idle`) or
   * `ConnectionError` when the body stops or breaks; it never ends quietly on a truncated body.
   */
  readonly stream: Stream.Stream<Uint8Array, ClientError>
}

/**
 * The operations of a client.
 *
 * @category models
 * @since 0.1.0
 */
export interface Service {
  /** Sends a request; the status must be accepted (2xx by default) or the call fails with its typed error. */
  readonly request: (
    method: string,
    url: string | URL,
    options?: RequestOptions
  ) => Effect.Effect<ClientResponse, ClientError>
  readonly get: (url: string | URL, options?: RequestOptions) => Effect.Effect<ClientResponse, ClientError>
  readonly head: (url: string | URL, options?: RequestOptions) => Effect.Effect<ClientResponse, ClientError>
  readonly post: (url: string | URL, options?: RequestOptions) => Effect.Effect<ClientResponse, ClientError>
  readonly put: (url: string | URL, options?: RequestOptions) => Effect.Effect<ClientResponse, ClientError>
  readonly patch: (url: string | URL, options?: RequestOptions) => Effect.Effect<ClientResponse, ClientError>
  readonly delete: (url: string | URL, options?: RequestOptions) => Effect.Effect<ClientResponse, ClientError>
  /** GET, then decode the JSON body with `schema`; the body is read inside the attempt. */
  readonly getJson: <S extends Schema.Top>(
    url: string | URL,
    schema: S,
    options?: RequestOptions
  ) => Effect.Effect<S["Type"], ClientError, S["DecodingServices"]>
  /** POST `body` as JSON, then decode the answer with `schema`. */
  readonly postJson: <S extends Schema.Top>(
    url: string | URL,
    body: unknown,
    schema: S,
    options?: RequestOptions
  ) => Effect.Effect<S["Type"], ClientError, S["DecodingServices"]>
  /**
   * A GET as a byte stream, optionally of a byte `range`: `start` and `end`
   * (inclusive) non-negative whole numbers, `end` at least `start`, else
   * `InvalidRequestError` before sending. With a range, only a 206 whose
   * `Content-Range` starts at `start` is streamed; a 200 (the server ignored
   * `Range`) or another range fails with `DecodeError`, not retried.
   */
  readonly stream: (
    url: string | URL,
    options?: RequestOptions & { readonly range?: { readonly start: number; readonly end?: number } }
  ) => Stream.Stream<Uint8Array, ClientError>
  /** The resolved configuration. */
  readonly config: ClientConfig.Resolved
}

/**
 * The default client.
 *
 * @category services
 * @since 0.1.0
 */
export class ResilientClient extends Context.Service<ResilientClient, Service>()("@httpkit/client/ResilientClient") {}

/**
 * Where a rate limiter plugs into the client: `RateLimitHook.RateLimit`,
 * which defines the contract (`@httpkit/rate-limiter` provides it).
 *
 * @category services
 * @since 0.1.0
 */
export const RateLimit: typeof RateLimitHook.RateLimit = RateLimitHook.RateLimit

/**
 * The type of the `RateLimit` service.
 *
 * @category services
 * @since 0.1.0
 */
export type RateLimit = RateLimitHook.RateLimit

/**
 * Options in code: the configuration fields plus what cannot be configuration.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options extends ClientConfig.Options {
  /** Replaces the default retry delays (exponential, full jitter, capped); stepped per failure with the error as input. */
  readonly retrySchedule?: Schedule.Schedule<unknown, ClientError> | undefined
}

/** A body that does not parse, as a `DecodeError` (not the parser's message: it quotes the body, which may hold a secret). */
const notJson = (received: Received, text: string) =>
  new DecodeError({
    ...received.context,
    retryable: false,
    status: received.response.status,
    issue: `the body is not JSON (${text.length} characters)`
  })

/** The body as JSON, whatever its shape (`ClientResponse.json`). */
const jsonOf = (received: Received, maxBytes: number): Effect.Effect<unknown, ClientError> =>
  Body.textThen(received, maxBytes, (text) => {
    try {
      return Effect.succeed(JSON.parse(text))
    } catch {
      return Effect.fail(notJson(received, text))
    }
  })

/** Each schema's decoder, made once: making one per call is most of what decoding a small body costs. */
const decoders = new WeakMap<Schema.Top, (input: unknown) => Effect.Effect<unknown, Schema.SchemaError, unknown>>()

const decoderOf = <S extends Schema.Top>(
  schema: S
): (input: unknown) => Effect.Effect<S["Type"], Schema.SchemaError, S["DecodingServices"]> => {
  let decoder = decoders.get(schema)
  if (decoder === undefined) {
    decoder = Schema.decodeUnknownEffect(schema)
    decoders.set(schema, decoder)
  }
  return decoder as (input: unknown) => Effect.Effect<S["Type"], Schema.SchemaError, S["DecodingServices"]>
}

const decodeWith = <S extends Schema.Top>(
  schema: S,
  received: Received,
  maxBytes: number
): Effect.Effect<S["Type"], ClientError, S["DecodingServices"]> =>
  Body.textThen(received, maxBytes, (text) => {
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      return Effect.fail(notJson(received, text))
    }
    return Effect.mapError(decoderOf(schema)(parsed), (error) =>
      new DecodeError({
        ...received.context,
        retryable: false,
        status: received.response.status,
        issue: error.message
      }))
  })

/** A response whose body is read once, through one of its readers (made only when one is asked for). */
class ReceivedResponse implements ClientResponse {
  readonly status: number
  readonly headers: Headers.Headers
  readonly url: URL
  readonly requestId: string
  readonly attempt: number
  readonly #received: Received
  readonly #maxBytes: number
  #used = false
  constructor(received: Received, maxBytes: number) {
    this.status = received.response.status
    this.headers = received.headers
    this.url = received.url
    this.requestId = received.context.requestId
    this.attempt = received.attempt
    this.#received = received
    this.#maxBytes = maxBytes
    // The attempt's deadline outlives the call for a buffered read of the body; `stream` lets it go.
    received.nativeDeadline?.hold()
  }
  #once<A>(read: (received: Received, maxBytes: number) => Effect.Effect<A, ClientError>) {
    return Effect.suspend(() => {
      if (this.#used) return Effect.die(new Error("the response body was already read"))
      this.#used = true
      return read(this.#received, this.#maxBytes)
    })
  }
  #buffered<A>(read: (received: Received, maxBytes: number) => Effect.Effect<A, ClientError>) {
    return this.#once((received, maxBytes) => Body.withinAttempt(received, read(received, maxBytes)))
  }
  get text(): Effect.Effect<string, ClientError> {
    return this.#buffered(Body.text)
  }
  get bytes(): Effect.Effect<Uint8Array, ClientError> {
    return this.#buffered(Body.bytes)
  }
  get json(): Effect.Effect<unknown, ClientError> {
    return this.#buffered(jsonOf)
  }
  get stream(): Stream.Stream<Uint8Array, ClientError> {
    return Stream.unwrap(this.#once((received) => {
      received.nativeDeadline?.release()
      return Effect.succeed(Body.stream(received))
    }))
  }
  /**
   * What a log line, `JSON.stringify`, `inspect` or a span's exit shows: the
   * URL and the headers redacted (RELIABILITY 8), where the fields
   * themselves hold a `Set-Cookie` and the URL's tokens as received.
   */
  toJSON(): unknown {
    return {
      _id: "ClientResponse",
      status: this.status,
      url: Redact.url(this.url),
      headers: Redact.headers(this.headers),
      requestId: this.requestId,
      attempt: this.attempt
    }
  }
  toString(): string {
    return JSON.stringify(this.toJSON())
  }
  [Symbol.for("nodejs.util.inspect.custom")](): unknown {
    return this.toJSON()
  }
}

/**
 * Builds a client over `transport` (Effect's `HttpClient`), with the
 * `ClientAuth`, `ClientCookies`, `BrowserProfiles`, `RateLimit` and
 * `CircuitBreakerStore` found in context.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeWith = Effect.fnUntraced(function*(
  resolved: ClientConfig.Resolved,
  transport: HttpClient.HttpClient,
  retrySchedule?: Schedule.Schedule<unknown, ClientError>,
  transportDeadlines = false
) {
  // The plug-ins, each an optional service: absent means off.
  const auth = yield* Effect.serviceOption(Auth.ClientAuth)
  const profiles = yield* Effect.serviceOption(BrowserProfile.BrowserProfiles)
  const cookies = yield* Effect.serviceOption(CookieJar.ClientCookies)
  const rateLimit = yield* Effect.serviceOption(RateLimitHook.RateLimit)
  const metrics = resolved.metrics ? yield* Metrics.make(resolved.name) : Metrics.disabled
  // Memory by default (no per-call fiber or store round trip); Effect's breaker over a store in context.
  let breaker: Breaker.Breaker
  if (resolved.circuitBreaker.enabled) {
    const store = yield* Effect.serviceOption(CircuitBreaker.CircuitBreakerStore)
    if (Option.isSome(store)) {
      // Every store call is bounded; while the store fails, circuits are kept locally (breakerFailover.ts).
      const failover = yield* BreakerFailover.make(store.value, {
        timeoutMillis: BreakerFailover.timeoutFor(resolved.timeout.total),
        probeEveryMillis: BreakerFailover.probeEveryMillis
      })
      const effectBreaker = yield* Effect.provideService(
        CircuitBreaker.make({
          tripPolicy: CircuitBreaker.consecutive(resolved.circuitBreaker.failureThreshold),
          openDuration: resolved.circuitBreaker.openDuration,
          onStoreError: "allow"
        }),
        CircuitBreaker.CircuitBreakerStore,
        failover
      )
      if (resolved.metrics) yield* observeTransitions(effectBreaker, metrics, resolved.name)
      breaker = { _tag: "Effect", breaker: effectBreaker }
    } else {
      const memoryBreaker = MemoryBreaker.make(
        resolved.circuitBreaker.failureThreshold,
        resolved.circuitBreaker.openDuration,
        Breaker.halfOpenRetryMillis,
        metrics.transition
      )
      if (resolved.metrics) {
        yield* Metrics.register(ClientMetrics.circuitsOpen, { client: resolved.name }, memoryBreaker.openCircuits)
      }
      breaker = { _tag: "Memory", breaker: memoryBreaker }
    }
  }
  const bulkhead = resolved.bulkhead.maxConcurrency === undefined
    ? undefined
    : Bulkhead.make(
      resolved.bulkhead.maxConcurrency,
      resolved.bulkhead.acquireTimeout,
      resolved.bulkhead.perHost,
      metrics.bulkheadRejected,
      resolved.bulkhead.maxWaiting
    )

  const run = Pipeline.make({
    options: resolved,
    transport,
    breaker,
    bulkhead,
    // Any plug-in may be the user's own: its methods are guarded (a return that is no effect is a defect of the call).
    auth: Option.isSome(auth) ? Plugins.auth(auth.value) : undefined,
    cookies: Option.isSome(cookies) ? Plugins.cookies(cookies.value) : undefined,
    profiles: Option.isSome(profiles) ? Plugins.profiles(profiles.value) : undefined,
    rateLimit: Option.isSome(rateLimit) ? Plugins.rateLimit(rateLimit.value) : undefined,
    retrySchedule,
    transportDeadlines,
    metrics: resolved.metrics ? metrics : undefined
  })
  const maxBytes = resolved.maxBodyBytes

  const respond = (received: Received): Effect.Effect<ClientResponse> =>
    Effect.succeed(new ReceivedResponse(received, maxBytes))

  const request = (method: string, url: string | URL, options: RequestOptions = {}) =>
    run(method, url, options, respond)

  const service: Service = {
    request,
    get: (url, options) => request("GET", url, options),
    head: (url, options) => request("HEAD", url, options),
    post: (url, options) => request("POST", url, options),
    put: (url, options) => request("PUT", url, options),
    patch: (url, options) => request("PATCH", url, options),
    delete: (url, options) => request("DELETE", url, options),
    getJson: (url, schema, options = {}) =>
      run("GET", url, options, (received) => decodeWith(schema, received, maxBytes)),
    postJson: (url, body, schema, options = {}) =>
      run("POST", url, { ...options, json: body }, (received) => decodeWith(schema, received, maxBytes)),
    stream: (url, options = {}) => {
      const { range: _, ...rest } = options
      // Read by own keys only, as the pipeline reads every option (RELIABILITY 10).
      const range = own(options, "range")
      if (range === undefined) {
        return Stream.unwrap(run("GET", url, rest, (received) => Effect.succeed(Body.stream(received))))
      }
      const problem = ByteRange.problem(range)
      if (problem !== undefined) {
        return Stream.fail(
          new InvalidRequestError({
            method: "GET",
            url: Redact.url(String(url)),
            requestId: String(own(options, "requestId") ?? crypto.randomUUID()),
            retryable: false,
            detail: problem
          })
        )
      }
      const headers = { ...own(options, "headers"), range: ByteRange.header(range) }
      return Stream.unwrap(
        run("GET", url, { ...rest, headers }, (received) => {
          const refused = (issue: string) =>
            new DecodeError({ ...received.context, retryable: false, status: received.response.status, issue })
          // A 200 (Range ignored) or another range would stream the wrong bytes: refused, its body abandoned.
          const mismatch = ByteRange.mismatch(received, range)
          if (mismatch !== undefined) return Effect.andThen(Body.abandon(received), Effect.fail(refused(mismatch)))
          // A body without a length (chunked) must still be exactly the range it says it is.
          return Effect.succeed(Body.exactLength(Body.stream(received), ByteRange.lengthOf(received), refused))
        })
      )
    },
    config: resolved
  }
  return service
})

const circuitStates = { Closed: "closed", Open: "open", HalfOpen: "half_open" } as const

/**
 * Feeds the transitions of Effect's breaker (this instance's, as its
 * `transitions` stream shows them) to the metrics, and keeps the set of
 * circuits not closed for the open-circuits gauge; until the scope closes.
 */
const observeTransitions = (
  breaker: CircuitBreaker.CircuitBreaker,
  metrics: Metrics.Recorder,
  client: string
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const notClosed = new Set<string>()
    yield* Metrics.register(ClientMetrics.circuitsOpen, { client }, () => notClosed.size)
    const context = yield* Effect.context<never>()
    yield* breaker.transitions.pipe(
      Stream.runForEach((transition) =>
        Effect.sync(() => {
          if (transition.to === "Closed") notClosed.delete(transition.key)
          else notClosed.add(transition.key)
          metrics.transition(context, circuitStates[transition.from], circuitStates[transition.to], transition.key)
        })
      ),
      Effect.forkScoped({ startImmediately: true })
    )
  })

/**
 * Builds a client with its own undici transport (closed with the scope).
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (
  options: Options = {}
): Effect.Effect<Service, ClientConfig.ClientConfigError, Scope.Scope> =>
  Effect.gen(function*() {
    const { retrySchedule: _, ...config } = options
    const retrySchedule = own(options, "retrySchedule")
    const resolved = yield* ClientConfig.resolve(config)
    const transport = yield* Transport.makeUndici(resolved)
    return yield* makeWith(resolved, transport, retrySchedule, true)
  })

/**
 * The client with the given options over Node's undici.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<ResilientClient, ClientConfig.ClientConfigError> =>
  Layer.effect(ResilientClient, make(options))

/**
 * The client configured from the environment (`HTTPKIT_BASE_URL`,
 * `HTTPKIT_TIMEOUT_CONNECT`, ...; see `ClientConfig.fromConfig`).
 *
 * @category layers
 * @since 0.1.0
 */
export const layerConfig = (prefix = "httpkit"): Layer.Layer<ResilientClient, ClientConfig.ClientConfigError> =>
  Layer.effect(
    ResilientClient,
    Effect.gen(function*() {
      const resolved = yield* ClientConfig.fromConfig(prefix)
      const transport = yield* Transport.makeUndici(resolved)
      return yield* makeWith(resolved, transport, undefined, true)
    })
  )

/**
 * The client over the `HttpClient` in context instead of its own undici
 * transport: `TestTransport.layer()` from `@httpkit/testing` in tests, or any Effect `HttpClient`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerWith = (
  options: Options = {}
): Layer.Layer<ResilientClient, ClientConfig.ClientConfigError, HttpClient.HttpClient> =>
  Layer.effect(
    ResilientClient,
    Effect.gen(function*() {
      const { retrySchedule: _, ...config } = options
      const retrySchedule = own(options, "retrySchedule")
      const resolved = yield* ClientConfig.resolve(config)
      return yield* makeWith(resolved, yield* HttpClient.HttpClient, retrySchedule)
    })
  )

/**
 * A client under a service key of your own, for several differently
 * configured clients in one application:
 *
 * ```ts
 * class GitHub extends Context.Service<GitHub, ResilientClient.Service>()("app/GitHub") {}
 * const GitHubLive = ResilientClient.layerAs(GitHub, { baseUrl: "https://api.github.com" })
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerAs = <Id>(
  key: Context.Key<Id, Service>,
  options: Options = {}
): Layer.Layer<Id, ClientConfig.ClientConfigError> => Layer.effect(key, make(options))
