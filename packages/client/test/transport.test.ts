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

layer(TestServer.layer(), { excludeTestServices: true })("the transport's attempt deadline", (it) => {
  it.effect("aborts a request before the response: it rejects with a TimeoutError", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const outcome = yield* withAgent(async (dispatcher) => {
        const { started, response } = requestWithin(dispatcher, server.urlFor("/delay/5000"), 200)
        const error = await response.then(() => undefined, (error: unknown) => error)
        return { error, elapsed: Date.now() - started }
      })
      assert.isTrue(isDeadlineAbort(outcome.error), `got ${String(outcome.error)}`)
      // Sent, then timed out waiting for the answer: the abort does not say it was not sent.
      assert.isTrue((outcome.error as Deadline.DeadlineExpired).sent)
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
      assert.isTrue(isDeadlineAbort(outcome.error), `got ${String(outcome.error)}`)
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
      assert.isTrue(isDeadlineAbort(outcome.error), `got ${String(outcome.error)}`)
      // The abort names the deadline its timer stood for: here the call's total, of 30 s.
      assert.strictEqual((outcome.error as Deadline.DeadlineExpired).phase, "total")
      assert.strictEqual((outcome.error as Deadline.DeadlineExpired).timeoutMillis, 30_000)
      assert.isBelow(outcome.elapsed, 4_000)
    }))
})

/**
 * One connection: a request to `/delay/800` holds it, and a second request (attempt deadline 10 s) waits in
 * undici's queue until it is free. The timer its handler armed at dispatch fires while it waits; the headers
 * or idle deadline that begins when it starts must still be kept, not left to the attempt's.
 */
const queuedBehind = (url: string, defaults: { headers: number; idle: number }) =>
  withAgent(
    async (dispatcher) => {
      // The blocker's own deadlines are far away.
      const blocker = dispatcher.request({
        origin: new URL(url).origin,
        path: "/delay/800",
        method: "GET",
        [Deadline.transportKey]: new Deadline.TransportDeadlines(30_000, 30_000)
      } as Undici.Dispatcher.RequestOptions).then((answer) => answer.body.text())
      const { started, response } = requestWithin(dispatcher, url, 10_000)
      const error = await response.then((answer) => answer.body.text()).then(() => undefined, (error) => error)
      await blocker
      return { error: error as unknown, elapsed: Date.now() - started }
    },
    defaults,
    { connections: 1 }
  )

layer(TestServer.layer(), { excludeTestServices: true })("the transport's headers and idle deadlines", (it) => {
  it.effect("a request that waited in undici's queue past its first timer still gets its headers deadline", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const outcome = yield* queuedBehind(server.urlFor("/delay/10000"), { headers: 300, idle: 0 })
      assert.isTrue(isDeadlineAbort(outcome.error), `got ${String(outcome.error)}`)
      assert.strictEqual((outcome.error as Deadline.DeadlineExpired).phase, "headers")
      // 800 ms in the queue, then 300 ms for the head: well before the attempt's 10 s.
      assert.isAtLeast(outcome.elapsed, 1_000)
      assert.isBelow(outcome.elapsed, 8_000)
    }))

  it.effect("a head that comes after the timer's first firing starts an idle deadline that is kept", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      // A byte a second: no chunk within 300 ms after the head.
      const outcome = yield* queuedBehind(server.urlFor("/files/queued-idle?size=100&rate=1"), {
        headers: 0,
        idle: 300
      })
      assert.isTrue(isDeadlineAbort(outcome.error), `got ${String(outcome.error)}`)
      assert.strictEqual((outcome.error as Deadline.DeadlineExpired).phase, "idle")
      assert.isAtLeast(outcome.elapsed, 1_000)
      assert.isBelow(outcome.elapsed, 8_000)
    }))
})

/**
 * One connection, held 3 s by a request to `/delay/3000`; a second request to `/health` waits in undici's queue
 * with an attempt deadline of `budgetMillis`, and `signal` when given. What it settled to and when; the connection
 * is free for 300 ms before the agent closes, so a request left in the queue would be sent.
 */
const waitingInQueue = (url: string, budgetMillis: number, signal?: AbortSignal) =>
  withAgent(
    async (dispatcher) => {
      const blocker = dispatcher.request({
        origin: new URL(url).origin,
        path: "/delay/3000",
        method: "GET",
        [Deadline.transportKey]: new Deadline.TransportDeadlines()
      } as Undici.Dispatcher.RequestOptions).then((answer) => answer.body.text())
      const { started, response } = requestWithin(dispatcher, `${url}/health`, budgetMillis, signal)
      const error = await response.then((answer) => answer.body.text()).then(() => undefined, (error) => error)
      const elapsed = Date.now() - started
      await blocker
      await new Promise((resolve) => setTimeout(resolve, 300))
      return { error: error as unknown, elapsed }
    },
    undefined,
    { connections: 1 }
  )

layer(TestServer.layer(), { excludeTestServices: true })("the transport's attempt deadline in undici's queue", (it) => {
  it.effect("takes a request waiting for a connection out of the queue at 300 ms: it fails with the deadline, never sent", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      yield* server.reset
      const outcome = yield* waitingInQueue(server.url, 300)
      assert.isTrue(isDeadlineAbort(outcome.error), `got ${String(outcome.error)}`)
      assert.strictEqual((outcome.error as Deadline.DeadlineExpired).phase, "attempt")
      assert.isFalse((outcome.error as Deadline.DeadlineExpired).sent, "it never left the queue")
      assert.isAtLeast(outcome.elapsed, 250)
      // The blocker holds the connection for 3 s.
      assert.isBelow(outcome.elapsed, 2_500)
      assert.lengthOf(yield* server.requestsTo("/health"), 0)
    }))

  it.effect("a caller's abort signal still takes a queued request out (the deadline's hook hands the queue on)", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      yield* server.reset
      const outcome = yield* waitingInQueue(server.url, 10_000, AbortSignal.timeout(300))
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
