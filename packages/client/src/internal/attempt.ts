/**
 * One attempt of a call: this attempt's request (profile headers, the
 * call's own, auth), cookies for each hop, the exchange with the transport,
 * redirects (followed or refused, credentials dropped across origins), and
 * the status: the accepted response handed to the consumer, or the status's
 * typed error.
 */
import * as ServerFeedback from "@httpkit/core/ServerFeedback"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Headers from "effect/http/Headers"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import type * as HttpClientResponse from "effect/http/HttpClientResponse"
import * as Redacted from "effect/Redacted"
import { type ClientError, fromStatus, RedirectError } from "../ClientError.ts"
import * as Redact from "../Redact.ts"
import * as Breaker from "./breaker.ts"
import type { Call, Profile } from "./call.ts"
import * as Deadline from "./deadline.ts"
import type { AuthHook } from "./env.ts"
import { callContext, type ErrorContext, fromTransport } from "./failure.ts"
import { Unauthorized } from "./outcome.ts"
import { own } from "./own.ts"
import * as Redirect from "./redirect.ts"

/** What an attempt hands to the consumer of a response. */
export interface Received {
  readonly response: HttpClientResponse.HttpClientResponse
  /** The response's headers, read once (Effect's own responses copy them on every read of `response.headers`). */
  readonly headers: Headers.Headers
  readonly context: ErrorContext
  readonly url: URL
  readonly attempt: number
  readonly deadlines: Deadline.Deadlines
  /** Whether the transport enforces the idle deadline itself. */
  readonly transportDeadlines: boolean
  /**
   * When the attempt's deadline passes (`Clock` milliseconds): a body read after the call returns is bounded by
   * it too. With our undici transport, `nativeDeadline` enforces it; `hold` it to keep it running past the call.
   */
  readonly endsAt: number
  readonly nativeDeadline: Deadline.AttemptDeadline | undefined
}

/** The value of a header from an auth snapshot, which holds `Redacted` values. */
const revealed = (value: unknown): string =>
  Redacted.isRedacted(value) ? Redacted.value(value) as string : String(value)

type Snapshot = Effect.Success<AuthHook["current"]>

/** Releases a response we will not read (redirects, error statuses), bounded in time and size. */
const discard = (response: HttpClientResponse.HttpClientResponse): Effect.Effect<void> =>
  response.arrayBuffer.pipe(Effect.timeout(1_000), Effect.ignore)

/** Attempt `number` of `call`, under `deadlines` (enforced by `native` with our transport). */
export class Attempt<A, E, R> {
  declare readonly call: Call<A, E, R>
  declare readonly number: number
  declare readonly deadlines: Deadline.Deadlines
  declare readonly native: Deadline.AttemptDeadline | undefined
  declare readonly endsAt: number
  /** The auth provider's credentials for this attempt. */
  declare snapshot: Snapshot | undefined

  constructor(
    call: Call<A, E, R>,
    number: number,
    deadlines: Deadline.Deadlines,
    native: Deadline.AttemptDeadline | undefined,
    endsAt: number
  ) {
    this.snapshot = undefined
    this.call = call
    this.number = number
    this.deadlines = deadlines
    this.native = native
    this.endsAt = endsAt
  }

  /** Runs the attempt: credentials first, when the client has an auth provider. */
  run(): Effect.Effect<A, ClientError | E | Unauthorized, R> {
    const auth = this.call.state.env.auth
    if (auth === undefined) return this.withProfile()
    return Effect.flatMap(auth.current, (current) => {
      this.snapshot = current
      return this.withProfile()
    })
  }

  /** The call's browser profile, chosen on its first attempt. */
  withProfile(): Effect.Effect<A, ClientError | E | Unauthorized, R> {
    const profiles = this.call.state.env.profiles
    if (profiles === undefined || this.number > 1) return this.prepare(this.call.profile)
    return Effect.flatMap(profiles.next, (profile) => {
      this.call.profile = profile
      return this.prepare(profile)
    })
  }

  /** This attempt's request: profile headers, then the call's own (in `base`), then auth. */
  prepare(profile: Profile | undefined): Effect.Effect<A, ClientError | E | Unauthorized, R> {
    const call = this.call
    let current = call.base
    if (profile !== undefined) {
      // Profile headers go first; the call's own headers (already in `base`) win.
      const merged: Record<string, string> = {}
      for (const [name, value] of profile.headers) {
        if (!(name in call.headers) || name === "user-agent") merged[name] = value
      }
      if (
        call.state.options.userAgent !== call.headers["user-agent"] ||
        (call.ownHeaders !== undefined && own(call.ownHeaders, "user-agent") !== undefined)
      ) {
        delete merged["user-agent"]
      }
      current = HttpClientRequest.setHeaders(
        HttpClientRequest.make(call.method as "GET")(call.url, { headers: merged }),
        {
          ...current.headers,
          ...(merged["user-agent"] === undefined ? {} : { "user-agent": merged["user-agent"] })
        }
      )
      current = HttpClientRequest.setBody(current, call.base.body)
    }
    if (this.snapshot !== undefined) {
      for (const [name, value] of this.snapshot.headers) {
        current = HttpClientRequest.setHeader(current, name, revealed(value))
      }
    }
    // A resend (the retry loop checked that it can be made) carries a fresh body, or the unread one again.
    if (call.bodySource !== undefined && call.sentOnce) {
      current = HttpClientRequest.setBody(current, call.bodySource.next())
    }
    return this.hop(current, call.url, this.snapshot !== undefined, 0)
  }

  /** One hop: cookies for its URL, then the exchange. */
  hop(
    current: HttpClientRequest.HttpClientRequest,
    currentUrl: URL,
    authorized: boolean,
    hops: number
  ): Effect.Effect<A, ClientError | E | Unauthorized, R> {
    const cookies = this.call.state.env.cookies
    if (cookies === undefined) return this.exchange(current, currentUrl, authorized, hops)
    return Effect.flatMap(cookies.cookieHeader(currentUrl), (fromJar) => {
      // The caller's own `Cookie` goes first, to its origin only (as a redirect drops it); the jar adds the rest.
      const given = currentUrl.origin === this.call.url.origin ? own(this.call.headers, "cookie") : undefined
      const cookie = mergeCookies(given, fromJar)
      return this.exchange(
        cookie === undefined
          ? HttpClientRequest.removeHeader(current, "cookie")
          : HttpClientRequest.setHeader(current, "cookie", cookie),
        currentUrl,
        authorized,
        hops
      )
    })
  }

  /** The transport's failure as the client's error. */
  toClientError(error: unknown): ClientError {
    return fromTransport(
      (error as { reason?: { cause?: unknown } }).reason?.cause ?? error,
      this.call.context,
      this.deadlines
    )
  }

  /**
   * Sends the hop's request, in a client span of its own when the call is
   * traced. The span starts when the request is sent, not when this effect
   * is built: a call's first attempt is built before the call begins.
   */
  exchange(
    current: HttpClientRequest.HttpClientRequest,
    currentUrl: URL,
    authorized: boolean,
    hops: number
  ): Effect.Effect<A, ClientError | E | Unauthorized, R> {
    if (this.call.tracing === undefined) return this.dispatch(current, currentUrl, authorized, hops)
    return Effect.suspend(() => {
      const trace = this.call.trace
      return this.dispatch(
        trace === undefined ? current : trace.send(current, currentUrl),
        currentUrl,
        authorized,
        hops
      )
    })
  }

  /** Sends the hop's request; the response's cookies are stored and the limiter told before it is routed. */
  dispatch(
    current: HttpClientRequest.HttpClientRequest,
    currentUrl: URL,
    authorized: boolean,
    hops: number
  ): Effect.Effect<A, ClientError | E | Unauthorized, R> {
    const call = this.call
    const { env } = call.state
    const received = (response: HttpClientResponse.HttpClientResponse) => {
      const responseHeaders = response.headers
      call.trace?.received(response.status, responseHeaders)
      const route = () => this.route(response, responseHeaders, current, currentUrl, authorized, hops)
      const observe = env.rateLimit?.observe
      const limited = call.limiterRequest
      const observed = observe === undefined || limited === undefined
        ? route
        : () => Effect.flatMap(observe(limited, { status: response.status, headers: responseHeaders }), route)
      if (env.cookies !== undefined) {
        const setCookie = responseHeaders["set-cookie"]
        if (setCookie !== undefined) {
          return Effect.flatMap(
            env.cookies.store(currentUrl, Array.isArray(setCookie) ? setCookie : [setCookie]),
            observed
          )
        }
      }
      return observed()
    }
    call.sentOnce = true
    // Our transport times the headers itself: one frame takes the response or maps the failure.
    if (this.native !== undefined) {
      return Effect.matchEffect(call.state.send(current), {
        onFailure: (error) => Effect.fail(this.toClientError(error)),
        onSuccess: received
      })
    }
    const sent = Effect.catch(call.state.send(current), (error) => Effect.fail(this.toClientError(error)))
    return Effect.flatMap(
      Deadline.timeoutOrElse(
        sent,
        this.deadlines.headers,
        () => Effect.fail(Deadline.headersTimedOut(call.context, this.deadlines)),
        call.clock
      ),
      received
    )
  }

  /** A redirect (followed or refused), the accepted response, or the status's error. */
  route(
    response: HttpClientResponse.HttpClientResponse,
    responseHeaders: Headers.Headers,
    current: HttpClientRequest.HttpClientRequest,
    currentUrl: URL,
    authorized: boolean,
    hops: number
  ): Effect.Effect<A, ClientError | E | Unauthorized, R> {
    const call = this.call
    const { options } = call.state
    const location = responseHeaders["location"]
    if (options.redirects.follow && Redirect.redirectStatuses.has(response.status) && location !== undefined) {
      return Effect.flatMap(
        discard(response),
        () => this.follow(response.status, location, current, currentUrl, authorized, hops)
      )
    }
    call.lastStatus = response.status
    if (call.accept(response.status)) {
      return call.consume({
        response,
        headers: responseHeaders,
        context: call.context,
        url: currentUrl,
        attempt: this.number,
        deadlines: this.deadlines,
        transportDeadlines: call.state.env.transportDeadlines,
        endsAt: this.endsAt,
        nativeDeadline: this.native
      })
    }
    return Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const retryAfterMillis = ServerFeedback.retryDelay(responseHeaders, { status: response.status, now })
      return Effect.flatMap(discard(response), (): Effect.Effect<never, ClientError | Unauthorized> => {
        const error = fromStatus({
          ...call.context,
          status: response.status,
          retryAfterMillis,
          retryableStatuses: options.retry.statuses
        })
        if (
          error._tag === "AuthenticationError" && response.status === 401 && authorized &&
          this.snapshot !== undefined
        ) {
          return Effect.fail(new Unauthorized({ error, generation: this.snapshot.generation }))
        }
        return Effect.fail(error)
      })
    })
  }

  /** Follows a redirect, or refuses it; credentials never cross an origin (RELIABILITY 6). */
  follow(
    status: number,
    location: string,
    current: HttpClientRequest.HttpClientRequest,
    currentUrl: URL,
    authorized: boolean,
    hops: number
  ): Effect.Effect<A, ClientError | E | Unauthorized, R> {
    const call = this.call
    const { options } = call.state
    const decision = Redirect.decide(currentUrl, status, location, current.method, options.redirects.allowDowngrade)
    if (decision._tag === "Refuse") {
      return Effect.fail(
        new RedirectError({
          ...call.context,
          retryable: false,
          reason: decision.reason,
          location: Redact.url(decision.location)
        })
      )
    }
    if (hops + 1 > options.redirects.maxHops) {
      return Effect.fail(
        new RedirectError({
          ...call.context,
          retryable: false,
          reason: "too-many",
          location: Redact.url(decision.url)
        })
      )
    }
    let next = HttpClientRequest.setUrl(current, decision.url)
    if (next.method !== decision.method) {
      next = HttpClientRequest.setMethod(next, decision.method as "GET")
    }
    if (!decision.keepBody) {
      next = HttpClientRequest.setBody(next, HttpClientRequest.empty.body)
      for (const name of Redirect.bodyHeaders) next = HttpClientRequest.removeHeader(next, name)
    } else if (call.bodySource !== undefined) {
      // A 307 or 308 sends the body again: a fresh one, or the refusal (never an empty or partial resend).
      if (!call.bodySource.replayable()) return Effect.fail(call.notReplayable("redirect", "RedirectError", status))
      next = HttpClientRequest.setBody(next, call.bodySource.next())
    }
    let stillAuthorized = authorized
    if (decision.crossOrigin || currentUrl.protocol !== decision.url.protocol) {
      for (const name of Object.keys(next.headers)) {
        if (call.state.redaction.isSecret(name)) next = HttpClientRequest.removeHeader(next, name)
      }
      stillAuthorized = false
    } else if (decision.basic !== undefined && !authorized && next.headers["authorization"] === undefined) {
      // The `Location`'s user-info, back to the origin that sent it, as a request URL's is: the hop's own
      // credentials (the call's, the request URL's, an auth provider's) win.
      next = HttpClientRequest.setHeader(next, "authorization", decision.basic)
    }
    const hopped = this.hop(next, decision.url, stillAuthorized, hops + 1)
    // A hop to another circuit's origin is admitted by and counts in that circuit, not the call's first one.
    const { keyBy, openDuration } = options.circuitBreaker
    const nextKey = Breaker.keyOf(decision.url, keyBy)
    if (nextKey === Breaker.keyOf(currentUrl, keyBy)) return hopped
    return Breaker.hop(
      call.state.env.breaker,
      nextKey !== call.key,
      nextKey,
      callContext(call.method, decision.url, call.requestId),
      openDuration,
      hopped
    )
  }
}

/**
 * A `Cookie` header of the caller's cookies and the jar's: the caller's
 * first, then the jar's whose names the caller did not give (a server reads
 * the first of a name, so the caller's would win anyway; this sends it once).
 */
const mergeCookies = (given: string | undefined, fromJar: string | undefined): string | undefined => {
  if (given === undefined || given.trim() === "") return fromJar
  if (fromJar === undefined) return given
  const names = new Set(given.split(";").map((pair) => pair.split("=", 1)[0]!.trim()))
  const rest = fromJar.split("; ").filter((pair) => !names.has(pair.split("=", 1)[0]!.trim()))
  return rest.length === 0 ? given : `${given}; ${rest.join("; ")}`
}
