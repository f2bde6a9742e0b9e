/**
 * ServerFeedback over sockets: every dialect read from the real
 * fault-injection server with plain `fetch`, checked against what the
 * server reports in its bodies and against what it admits after the wait.
 * (Here rather than in `@httpkit/core`'s tests, which cannot depend on
 * `@httpkit/testing`: the test server uses core's redaction.)
 */
import { assert, layer } from "@effect/vitest"
import * as ServerFeedback from "@httpkit/core/ServerFeedback"
import { ServerControl, TestServer } from "@httpkit/testing"
import { Effect } from "effect"

const budgetsOf = (feedback: ServerFeedback.Feedback, source: ServerFeedback.Dialect) =>
  feedback.budgets.filter((budget) => budget.source === source)

interface Answer {
  readonly status: number
  readonly headers: Record<string, string>
  readonly body: Record<string, unknown>
  /** Just before the request was sent (the server's clock is this process's). */
  readonly sentAt: number
  /** Just after the answer's head arrived. */
  readonly receivedAt: number
}

/** One request with plain `fetch`. */
const send = (url: string, init?: RequestInit) =>
  Effect.promise(async (): Promise<Answer> => {
    const sentAt = Date.now()
    const response = await fetch(url, init)
    const receivedAt = Date.now()
    const body = (await response.json()) as Record<string, unknown>
    return { status: response.status, headers: Object.fromEntries(response.headers), body, sentAt, receivedAt }
  })

/** Sleeps on the real clock until `Date.now()` reaches `end` (timers may fire a little early against it). */
const sleepUntil = (end: number) =>
  Effect.gen(function*() {
    while (Date.now() < end) yield* Effect.sleep(Math.max(1, end - Date.now()))
  })

/** Parses an answer's headers now, and how long `holdOff` says to wait. */
const read = (answer: Answer, options: Omit<ServerFeedback.HoldOffOptions, "status"> = {}) => {
  const parsedAt = Date.now()
  const feedback = ServerFeedback.parse(answer.headers, { now: parsedAt })
  return { parsedAt, feedback, wait: ServerFeedback.holdOff(feedback, { status: answer.status, ...options }) }
}

/**
 * Checks that a wait ends no earlier than the server's reset and at most a
 * second (whole-second rounding) after it. The reset is `body.reset_ms` after
 * the server's "now", which lies between `sentAt` and `receivedAt`.
 */
const assertMatchesReset = (answer: Answer, parsedAt: number, wait: number | undefined, what: string) => {
  assert.ok(wait !== undefined, `${what}: no wait`)
  const resetMillis = answer.body["reset_ms"] as number
  assert.ok(
    parsedAt + wait! >= answer.sentAt + resetMillis,
    `${what}: wait ${wait} ends before the reset (${resetMillis} ms after the request)`
  )
  assert.ok(wait! <= resetMillis + 1_000, `${what}: wait ${wait} is more than a second after the reset ${resetMillis}`)
}

/**
 * Three requests to an endpoint admitting two: the first leaves a unit (no wait), the second spends the budget (a
 * 200 whose headers report 0 remaining), the third is refused (429). Each answer is read as it arrives.
 */
const spendTwo = (url: string, init?: RequestInit) =>
  Effect.gen(function*() {
    const first = yield* send(url, init)
    assert.strictEqual(first.status, 200)
    assert.strictEqual(read(first).wait, undefined, "one unit left: no wait")
    const second = yield* send(url, init)
    assert.strictEqual(second.status, 200)
    const spent = read(second)
    const third = yield* send(url, init)
    assert.strictEqual(third.status, 429)
    return { first, second, spent, third, refused: read(third) }
  })

/** A mock's 60 s window starts with the first request: its reset lies in this span. */
const windowReset = (first: Answer) => ({ earliest: first.sentAt + 60_000, latest: first.receivedAt + 60_000 })

const dialectSources: Record<string, ReadonlyArray<ServerFeedback.Dialect>> = {
  ietf: ["ietf"],
  x: ["x"],
  openai: ["openai"],
  anthropic: ["anthropic"],
  all: ["ietf", "x", "openai", "anthropic"]
}

layer(TestServer.layer(), { excludeTestServices: true })("ServerFeedback over sockets", (it) => {
  for (const dialect of ["ietf", "x", "openai", "anthropic", "all"]) {
    it.effect(`/ratelimit dialect=${dialect}: the wait matches the server's reset, and then it admits again`, () =>
      Effect.gen(function*() {
        const server = yield* TestServer.TestServer
        const key = `feedback-${dialect}-${crypto.randomUUID()}`
        // A 2.5 s window leaves room for a loaded machine between the first and the refused request.
        const url = server.urlFor(`/ratelimit?dialect=${dialect}&limit=2&window=2500&key=${key}`)

        // The second request spends the budget: a 200 whose headers report 0 remaining.
        const { refused, second, spent, third } = yield* spendTwo(url)
        assertMatchesReset(second, spent.parsedAt, spent.wait, "200 with an empty budget")
        for (const source of dialectSources[dialect]!) {
          const budgets = spent.feedback.budgets.filter((budget) => budget.source === source)
          assert.ok(budgets.some((budget) => budget.remaining === 0 && budget.limit === 2), `${source} budget`)
        }

        // The third is refused; the wait comes from Retry-After (or retry-after-ms) exactly.
        const resetMillis = third.body["reset_ms"] as number
        const expected = dialectSources[dialect]!.includes("openai")
          ? Math.max(1, resetMillis)
          : Math.max(1, Math.ceil(resetMillis / 1000)) * 1000
        assert.strictEqual(refused.wait, expected)
        assertMatchesReset(third, refused.parsedAt, refused.wait, "429")
        if (dialect === "ietf") {
          // `RateLimit-Policy: 2;w=3`: the 2.5 s window in whole seconds.
          assert.strictEqual(budgetsOf(refused.feedback, "ietf")[0]?.windowMillis, 3_000)
        }

        // Every sharer waits that long; then the server admits again.
        yield* sleepUntil(refused.parsedAt + refused.wait!)
        const after = yield* send(url)
        assert.strictEqual(after.status, 200, JSON.stringify(after.body))
        assert.deepStrictEqual(yield* ServerControl.make(server.url).rateLimitStats(key), {
          key,
          allowed: 3,
          refused: 1
        })
      }))
  }

  it.effect("OpenAI mock: requests and tokens budgets, a 429 with retry-after-ms inside the 60 s window", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const url = server.urlFor("/v1/chat/completions?rpm=2")
      const init: RequestInit = {
        method: "POST",
        headers: { authorization: `Bearer sk-test-${crypto.randomUUID()}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "gpt-test", messages: [{ role: "user", content: "hello there" }] })
      }
      const { first, refused, second, spent, third } = yield* spendTwo(url, init)
      const reset = windowReset(first)
      const requests = budgetsOf(spent.feedback, "openai").find((budget) => budget.unit === "requests")
      assert.deepStrictEqual({ limit: requests?.limit, remaining: requests?.remaining }, { limit: 2, remaining: 0 })
      assert.ok(spent.wait !== undefined && spent.wait <= 60_000)
      assert.ok(spent.parsedAt + spent.wait >= reset.earliest, "the wait ends no earlier than the window")
      assert.ok(spent.parsedAt + spent.wait <= reset.latest + (spent.parsedAt - second.sentAt), "and not much later")

      // The token budget: plenty for a small request, short for one costing the whole limit.
      const tokens = budgetsOf(spent.feedback, "openai").find((budget) => budget.unit === "tokens")
      assert.strictEqual(tokens?.limit, 1_000_000)
      assert.ok(tokens?.remaining !== undefined && tokens.remaining < 1_000_000, "tokens were spent")
      assert.isFalse(ServerFeedback.isExhausted(tokens!, { tokens: 100 }))
      assert.isTrue(ServerFeedback.isExhausted(tokens!, { tokens: 1_000_000 }))

      assert.strictEqual(refused.wait, refused.feedback.retryAfterMillis)
      assert.strictEqual(refused.wait, Number(third.headers["retry-after-ms"]))
      assert.ok(refused.parsedAt + refused.wait! >= reset.earliest)
      assert.ok(refused.parsedAt + refused.wait! <= reset.latest + (refused.parsedAt - third.sentAt))
    }))

  it.effect("Anthropic mock: four budgets with RFC 3339 resets, a 429 with retry-after inside the 60 s window", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const url = server.urlFor("/v1/messages?rpm=2")
      const init: RequestInit = {
        method: "POST",
        headers: {
          "x-api-key": `sk-ant-test-${crypto.randomUUID()}`,
          "anthropic-version": "2023-06-01",
          "content-type": "application/json"
        },
        body: JSON.stringify({ model: "claude-test", max_tokens: 16, messages: [{ role: "user", content: "hello" }] })
      }
      const { first, refused, spent, third } = yield* spendTwo(url, init)
      const reset = windowReset(first)
      assert.deepStrictEqual(
        budgetsOf(spent.feedback, "anthropic").map((budget) => budget.unit),
        ["requests", "tokens", "input-tokens", "output-tokens"]
      )
      const requests = budgetsOf(spent.feedback, "anthropic")[0]!
      assert.deepStrictEqual({ limit: requests.limit, remaining: requests.remaining }, { limit: 2, remaining: 0 })
      // RFC 3339 resets are whole seconds, rounded up by the server: at most a second late.
      assert.ok(spent.wait !== undefined)
      assert.ok(spent.parsedAt + spent.wait >= reset.earliest, "the wait ends no earlier than the window")
      assert.ok(spent.parsedAt + spent.wait <= reset.latest + 1_000, "and at most a second later")

      assert.strictEqual(refused.wait, Number(third.headers["retry-after"]) * 1000)
      assert.ok(refused.parsedAt + refused.wait! >= reset.earliest)
      assert.ok(refused.parsedAt + refused.wait! <= reset.latest + 1_000 + (refused.parsedAt - third.sentAt))
    }))
})
