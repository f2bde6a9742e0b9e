import { assert, it } from "@effect/vitest"
import * as ServerControl from "@httpkit/testing/ServerControl"
import * as TestServer from "@httpkit/testing/TestServer"
import { Effect, Logger, References } from "effect"
import * as ResilientClient from "../src/ResilientClient.ts"

interface Line {
  readonly level: string
  readonly message: unknown
  readonly annotations: Record<string, unknown>
}

const capture = () => {
  const lines: Array<Line> = []
  const logger = Logger.make((options) => {
    lines.push({
      level: options.logLevel,
      message: options.message,
      annotations: { ...options.fiber.getRef(References.CurrentLogAnnotations) }
    })
  })
  return { lines, loggers: new Set([logger]) }
}

it.live("one structured line per attempt, with no secret in it", () =>
  Effect.gen(function*() {
    const server = yield* TestServer.make()
    const { lines, loggers } = capture()
    const client = yield* ResilientClient.make({
      baseUrl: server.url,
      retry: { minDelay: 1, maxDelay: 5 },
      logging: { level: "info" }
    })
    yield* ServerControl.make(server.url).failNext(1, { status: 503 })
    yield* client.get("/msg?token=s3cr3t-query", { headers: { authorization: "Bearer s3cr3t-header" } }).pipe(
      Effect.provideService(Logger.CurrentLoggers, loggers)
    )
    const attempts = lines.filter((line) => JSON.stringify(line.message).includes("http attempt"))
    assert.strictEqual(attempts.length, 2)
    const [failed, succeeded] = attempts
    assert.strictEqual(failed!.level, "Info")
    assert.strictEqual(failed!.annotations.attempt, 1)
    assert.strictEqual(failed!.annotations.status, 503)
    assert.strictEqual(failed!.annotations.error, "ServiceUnavailableError")
    assert.strictEqual(succeeded!.annotations.attempt, 2)
    assert.strictEqual(succeeded!.annotations.status, "ok")
    assert.strictEqual(failed!.annotations.request_id, succeeded!.annotations.request_id)
    assert.strictEqual(failed!.annotations.method, "GET")
    assert.include(String(failed!.annotations.url), "token=REDACTED")
    assert.isNumber(failed!.annotations.duration_ms)
    const everything = JSON.stringify(lines)
    assert.notInclude(everything, "s3cr3t")
  }).pipe(Effect.scoped))

it.live("no lines below the minimum level, and none with level none", () =>
  Effect.gen(function*() {
    const server = yield* TestServer.make()
    const { lines, loggers } = capture()
    const debug = yield* ResilientClient.make({ baseUrl: server.url })
    const silent = yield* ResilientClient.make({ baseUrl: server.url, logging: { level: "none" } })
    yield* Effect.all([debug.get("/health"), silent.get("/health")]).pipe(
      Effect.provideService(Logger.CurrentLoggers, loggers)
    )
    assert.strictEqual(lines.length, 0)
    yield* silent.get("/health").pipe(
      Effect.provideService(Logger.CurrentLoggers, loggers),
      Effect.provideService(References.MinimumLogLevel, "Trace")
    )
    assert.strictEqual(lines.length, 0)
    yield* debug.get("/health").pipe(
      Effect.provideService(Logger.CurrentLoggers, loggers),
      Effect.provideService(References.MinimumLogLevel, "Debug")
    )
    assert.strictEqual(lines.length, 1)
  }).pipe(Effect.scoped))

it.live("logging.json writes the attempt line as JSON instead of the default console logger, and every other logger (an exporter's) still gets it", () =>
  Effect.gen(function*() {
    const server = yield* TestServer.make()
    const { lines, loggers } = capture()
    const client = yield* ResilientClient.make({ baseUrl: server.url, logging: { level: "info", json: true } })
    const printed: Array<string> = []
    const original = console.log
    console.log = (...args: Array<unknown>) => {
      printed.push(args.map(String).join(" "))
    }
    try {
      yield* client.get("/health").pipe(
        Effect.provideService(Logger.CurrentLoggers, new Set([...loggers, Logger.defaultLogger]))
      )
    } finally {
      console.log = original
    }
    // The capturing logger (standing for OTLP's) got the line; the console got it once, as JSON.
    assert.strictEqual(lines.filter((line) => JSON.stringify(line.message).includes("http attempt")).length, 1)
    const attempts = printed.filter((text) => text.includes("http attempt"))
    assert.strictEqual(attempts.length, 1, JSON.stringify(printed))
    assert.strictEqual(
      (JSON.parse(attempts[0]!) as { readonly annotations?: { readonly method?: string } })
        .annotations?.method,
      "GET"
    )
  }).pipe(Effect.scoped))
