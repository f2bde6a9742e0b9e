/**
 * The transport's deadline interceptor on a real undici `Agent` against the
 * fault-injection server: the attempt deadline aborts a request dispatched
 * with undici's `request` (what Effect's client uses) before the response and
 * in the middle of its body, and one dispatched with a handler of its own; a
 * cancelled deadline aborts nothing; the headers and idle deadlines hold for a
 * request that waited in undici's queue; the attempt's deadline takes a request
 * still waiting in undici's queue out of it (saying it was never sent), and a
 * caller's abort signal still does.
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { TestServer } from "@httpkit/testing"
import { Effect } from "effect"
import * as Undici from "undici"
import * as Deadline from "../src/internal/deadline.ts"
import * as Transport from "../src/internal/transport.ts"

/**
 * An agent with the interceptor (by default idle and headers deadlines far away, any number of connections),
 * destroyed when the test ends.
 */
const withAgent = <A>(
  use: (dispatcher: Undici.Dispatcher) => Promise<A>,
  defaults = { headers: 30_000, idle: 30_000 },
  agentOptions: Undici.Agent.Options = {}
) =>
  Effect.acquireUseRelease(
    Effect.sync(() => new Undici.Agent(agentOptions)),
    (agent) => Effect.promise(() => use(agent.compose(Transport.deadlineInterceptor(defaults)))),
    (agent) => Effect.promise(() => agent.destroy())
  )

/**
 * `dispatcher.request` with an attempt deadline of `budgetMillis` (and `signal`, when given): what the request
 * settles to, and when.
 */
const requestWithin = (dispatcher: Undici.Dispatcher, url: string, budgetMillis: number, signal?: AbortSignal) => {
  const started = Date.now()
  const attempt = new Deadline.AttemptDeadline(budgetMillis)
  const { origin, pathname, search } = new URL(url)
  const options = {
    origin,
    path: pathname + search,
    method: "GET",
    ...(signal === undefined ? {} : { signal }),
    [Deadline.transportKey]: withAttempt(attempt)
  } as Undici.Dispatcher.RequestOptions
  return { started, attempt, response: dispatcher.request(options) }
}

/** A call's transport deadlines carrying `attempt`. */
const withAttempt = (attempt: Deadline.AttemptDeadline): Deadline.TransportDeadlines => {
  const deadlines = new Deadline.TransportDeadlines()
  deadlines.attempt = attempt
  return deadlines
}

const isDeadlineAbort = (error: unknown): boolean => error instanceof Deadline.DeadlineExpired

/** The error is the deadline's abort (of `phase`, when given). */
const assertExpired = (error: unknown, phase?: string): Deadline.DeadlineExpired => {
  assert.isTrue(isDeadlineAbort(error), `got ${String(error)}`)
  const expired = error as Deadline.DeadlineExpired
  if (phase !== undefined) assert.strictEqual(expired.phase, phase)
  return expired
}

layer(TestServer.layer(), { excludeTestServices: true })("the transport's attempt deadline", (it) => {
  it.effect("aborts a request before the response: it rejects with a TimeoutError", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const outcome = yield* withAgent(async (dispatcher) => {
        const { started, response } = requestWithin(dispatcher, server.urlFor("/delay/5000"), 200)
        const error = await response.then(() => undefined, (error: unknown) => error)
        return { error, elapsed: Date.now() - started }
      })
      // Sent, then timed out waiting for the answer: the abort does not say it was not sent.
      assert.isTrue(assertExpired(outcome.error).sent)
      assert.isAtLeast(outcome.elapsed, 150)
      assert.isBelow(outcome.elapsed, 4_000)
    }))

  it.effect("aborts a request in its body: the body fails, it never ends quietly", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const outcome = yield* withAgent(async (dispatcher) => {
        const { response } = requestWithin(dispatcher, `${server.rawUrl}/headers-then-hang?length=1000&sent=10`, 300)
        const { statusCode, body } = await response
        const error = await body.text().then(() => undefined, (error: unknown) => error)
        return { statusCode, error }
      })
      assert.strictEqual(outcome.statusCode, 200)
      assertExpired(outcome.error)
    }))

  it.effect("a cancelled deadline aborts nothing", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const text = yield* withAgent(async (dispatcher) => {
        const { attempt, response } = requestWithin(dispatcher, server.urlFor("/delay/400"), 200)
        attempt.cancel()
        return (await response).body.text()
      })
      assert.isAbove(text.length, 0)
    }))

  it.effect("aborts a request dispatched with a handler of its own", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const outcome = yield* withAgent((dispatcher) =>
        new Promise<{ readonly error: unknown; readonly elapsed: number }>((resolve) => {
          const started = Date.now()
          const { origin, pathname } = new URL(server.urlFor("/delay/5000"))
          const options = {
            origin,
            path: pathname,
            method: "GET",
            [Deadline.transportKey]: withAttempt(new Deadline.AttemptDeadline(200, "total", 30_000))
          } as Undici.Dispatcher.DispatchOptions
          const handler: Undici.Dispatcher.DispatchHandler = {
            onResponseEnd: () => resolve({ error: undefined, elapsed: Date.now() - started }),
            onResponseError: (_controller, error) => resolve({ error, elapsed: Date.now() - started })
          }
          dispatcher.dispatch(options, handler)
        })
      )
      // The abort names the deadline its timer stood for: here the call's total, of 30 s.
      assert.strictEqual(assertExpired(outcome.error, "total").timeoutMillis, 30_000)
      assert.isBelow(outcome.elapsed, 4_000)
    }))
})

/**
 * One connection: a request to `/delay/<holdMillis>` (its own deadlines far away) holds it, and a second request to
 * `url` (attempt deadline `budgetMillis`, and `signal` when given) waits in undici's queue until it is free. What
 * the second settled to, and when; the connection is then free for 300 ms before the agent closes, so a request
 * left in the queue would be sent.
 */
const queuedBehind = (
  url: string,
  options: {
    readonly holdMillis: number
    readonly budgetMillis: number
    readonly signal?: AbortSignal
    readonly defaults?: { readonly headers: number; readonly idle: number }
  }
) =>
  withAgent(
    async (dispatcher) => {
      const blocker = dispatcher.request({
        origin: new URL(url).origin,
        path: `/delay/${options.holdMillis}`,
        method: "GET",
        [Deadline.transportKey]: new Deadline.TransportDeadlines(30_000, 30_000)
      } as Undici.Dispatcher.RequestOptions).then((answer) => answer.body.text())
      const { started, response } = requestWithin(dispatcher, url, options.budgetMillis, options.signal)
      const error = await response.then((answer) => answer.body.text()).then(() => undefined, (error: unknown) => error)
      const elapsed = Date.now() - started
      await blocker
      await new Promise((resolve) => setTimeout(resolve, 300))
      return { error, elapsed }
    },
    options.defaults,
    { connections: 1 }
  )

/**
 * 800 ms in the queue (attempt deadline 10 s): the timer its handler armed at dispatch fires while it waits; the
 * headers or idle deadline that begins when it starts must still be kept, not left to the attempt's.
 */
const pastFirstTimer = { holdMillis: 800, budgetMillis: 10_000 } as const

layer(TestServer.layer(), { excludeTestServices: true })("the transport's headers and idle deadlines", (it) => {
  it.effect("a request that waited in undici's queue past its first timer still gets its headers deadline", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const outcome = yield* queuedBehind(server.urlFor("/delay/10000"), {
        ...pastFirstTimer,
        defaults: { headers: 300, idle: 0 }
      })
      assertExpired(outcome.error, "headers")
      // 800 ms in the queue, then 300 ms for the head: well before the attempt's 10 s.
      assert.isAtLeast(outcome.elapsed, 1_000)
      assert.isBelow(outcome.elapsed, 8_000)
    }))

  it.effect("a head that comes after the timer's first firing starts an idle deadline that is kept", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      // A byte a second: no chunk within 300 ms after the head.
      const outcome = yield* queuedBehind(server.urlFor("/files/queued-idle?size=100&rate=1"), {
        ...pastFirstTimer,
        defaults: { headers: 0, idle: 300 }
      })
      assertExpired(outcome.error, "idle")
      assert.isAtLeast(outcome.elapsed, 1_000)
      assert.isBelow(outcome.elapsed, 8_000)
    }))
})

layer(TestServer.layer(), { excludeTestServices: true })("the transport's attempt deadline in undici's queue", (it) => {
  it.effect("takes a request waiting for a connection out of the queue at 300 ms: it fails with the deadline, never sent", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      yield* server.reset
      const outcome = yield* queuedBehind(server.urlFor("/health"), { holdMillis: 3_000, budgetMillis: 300 })
      assert.isFalse(assertExpired(outcome.error, "attempt").sent, "it never left the queue")
      assert.isAtLeast(outcome.elapsed, 250)
      // The blocker holds the connection for 3 s.
      assert.isBelow(outcome.elapsed, 2_500)
      assert.lengthOf(yield* server.requestsTo("/health"), 0)
    }))

  it.effect("a caller's abort signal still takes a queued request out (the deadline's hook hands the queue on)", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      yield* server.reset
      const outcome = yield* queuedBehind(server.urlFor("/health"), {
        holdMillis: 3_000,
        budgetMillis: 10_000,
        signal: AbortSignal.timeout(300)
      })
      // The signal's reason (a DOMException named TimeoutError), not the attempt's deadline of 10 s.
      assert.strictEqual((outcome.error as Error | undefined)?.name, "TimeoutError")
      assert.isFalse(isDeadlineAbort(outcome.error), `got ${String(outcome.error)}`)
      assert.isBelow(outcome.elapsed, 2_500)
      assert.lengthOf(yield* server.requestsTo("/health"), 0)
    }))
})

describe("AttemptDeadline", () => {
  it("arms nothing once cancelled", () => {
    const attempt = new Deadline.AttemptDeadline(10)
    attempt.cancel()
    assert.isUndefined(attempt.arm({ attemptEnded: () => assert.fail("told") }))
  })

  it("a request's deadlines are read by own key only", () => {
    const inherited = Object.create({ [Deadline.transportKey]: withAttempt(new Deadline.AttemptDeadline(10)) })
    assert.isUndefined(Deadline.ofRequest(inherited))
    const deadlines = new Deadline.TransportDeadlines(1_000, 2_000)
    assert.strictEqual(Deadline.ofRequest({ [Deadline.transportKey]: deadlines }), deadlines)
  })
})
