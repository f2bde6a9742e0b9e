/**
 * The client's errors own only the fields they were given (RELIABILITY 10),
 * and what decides on an optional field reads it by own key: an error made
 * while `Object.prototype` holds a `status`, `retryAfterMillis` or
 * `requestId` does not take it (Effect's Schema reads an absent optional
 * field with `in`), its message does not show it, a retry does not wait for
 * it, and the breaker does not count a request refused before sending as the
 * server's failure.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Exit } from "effect"
import * as Auth from "../src/Auth.ts"
import {
  BulkheadFullError,
  CircuitOpenError,
  ConnectionError,
  fromStatus,
  InvalidRequestError,
  TimeoutError
} from "../src/ClientError.ts"
import * as Breaker from "../src/internal/breaker.ts"
import * as Retry from "../src/internal/retry.ts"

const polluted = { status: 599, retryAfterMillis: 120_000, requestId: "polluted-id", header: "x-polluted" }

/** Runs `make` while `Object.prototype` holds every name of `values`. */
const whilePollutedWith = <A>(values: Readonly<Record<string, unknown>>, make: () => A): A => {
  const proto = Object.prototype as Record<string, unknown>
  Object.assign(proto, values)
  try {
    return make()
  } finally {
    for (const name of Object.keys(values)) delete proto[name]
  }
}

/** Runs `make` while `Object.prototype` holds every name of `polluted`. */
const whilePolluted = <A>(make: () => A): A => whilePollutedWith(polluted, make)

const context = { method: "GET", url: "http://api.test/a", retryable: true }

/** The message of the error a status maps to. */
const message = (status: number) =>
  fromStatus({ method: "GET", url: "http://api.test/a", status, retryableStatuses: new Set() }).message

describe("the client's errors under a polluted prototype", () => {
  it("an error owns none of the optional fields it was not given, and its message shows none", () => {
    const errors = whilePolluted(() => ({
      connection: new ConnectionError({ ...context, sent: false, detail: "ECONNREFUSED" }),
      timeout: new TimeoutError({ ...context, phase: "headers", timeoutMillis: 300 }),
      open: new CircuitOpenError({ ...context, key: "http://api.test" }),
      full: new BulkheadFullError({ ...context, reason: "queue-full", maxConcurrency: 1, waitedMillis: 5 }),
      refused: new InvalidRequestError({ ...context, retryable: false, detail: "bad header" }),
      auth: new Auth.AuthConfigError({
        reason: "invalid-header-name",
        problems: [{ setting: "headers", received: "(redacted)", expected: "a token" }]
      })
    }))
    for (const [name, error] of Object.entries(errors)) {
      for (const field of Object.keys(polluted)) {
        assert.isFalse(Object.hasOwn(error, field), `${name} owns ${field}`)
      }
    }
    // Messages are read after the pollution is gone too: what they show comes from the error alone.
    const messages = whilePolluted(() => Object.values(errors).map((error) => error.message))
    for (const message of messages) {
      assert.notInclude(message, "599")
      assert.notInclude(message, "retry after")
    }
  })

  it("a status error from a response without Retry-After or request id owns neither", () => {
    const error = whilePolluted(() =>
      fromStatus({ method: "GET", url: "http://api.test/a", status: 503, retryableStatuses: new Set([503]) })
    )
    assert.strictEqual(error._tag, "ServiceUnavailableError")
    assert.strictEqual(error.status, 503)
    assert.isFalse(Object.hasOwn(error, "retryAfterMillis"))
    assert.isFalse(Object.hasOwn(error, "requestId"))
  })

  it("a status error's message says what the status is: a 3xx not followed, a 4xx refused, a 5xx, one past 599", () => {
    assert.strictEqual(message(302), "redirect not followed: GET http://api.test/a (status 302)")
    assert.strictEqual(message(418), "request refused: GET http://api.test/a (status 418)")
    assert.strictEqual(message(500), "server error: GET http://api.test/a (status 500)")
    assert.strictEqual(message(999), "status outside HTTP's 1xx-5xx: GET http://api.test/a (status 999)")
  })

  it("a retry waits its own delay, not a polluted Retry-After past the ceiling (which would stop retrying)", () => {
    const error = fromStatus({
      method: "GET",
      url: "http://api.test/a",
      status: 503,
      retryableStatuses: new Set([503])
    })
    const wait = whilePolluted(() => Retry.waitBefore(error, 100, 60_000, 0, 10_000))
    assert.strictEqual(wait, 100)
  })

  it("a POST that timed out after it was sent is not retried, whatever `sent` the prototype holds", () => {
    const sent = new TimeoutError({ ...context, method: "POST", phase: "attempt", timeoutMillis: 300 })
    const unsent = new TimeoutError({ ...context, method: "POST", phase: "attempt", timeoutMillis: 300, sent: false })
    const idempotent = new Set(["GET"])
    const decisions = whilePollutedWith({ sent: false }, () => ({
      sent: Retry.mayRetry(sent, "POST", idempotent, false),
      unsent: Retry.mayRetry(unsent, "POST", idempotent, false),
      message: sent.message
    }))
    assert.deepStrictEqual(decisions, {
      sent: false,
      unsent: true,
      message: "attempt timeout after 300 ms: POST http://api.test/a"
    })
    assert.include(unsent.message, "attempt timeout after 300 ms, before the request was sent")
  })

  it("the breaker ignores a request refused before sending, whatever status the prototype holds", () => {
    const refused = new InvalidRequestError({ ...context, retryable: false, detail: "bad header" })
    const outcome = whilePolluted(() => Breaker.outcomeOf(Exit.fail(refused)))
    assert.strictEqual(outcome, "Ignored")
    assert.notStrictEqual(
      Breaker.outcomeOf(Exit.failCause(Cause.fail(fromStatus({
        method: "GET",
        url: "http://api.test/a",
        status: 400,
        retryableStatuses: new Set()
      })))),
      "Ignored",
      "a 400 the server answered does count"
    )
  })
})
