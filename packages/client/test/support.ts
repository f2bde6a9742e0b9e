/**
 * Helpers shared by the client's socket tests.
 */
import { assert } from "@effect/vitest"
import { TestServer, TlsTest } from "@httpkit/testing"
import { Effect, Logger, Scope } from "effect"

/** What `/echo` answers. */
export interface Echo {
  readonly method: string
  readonly path: string
  readonly query: Readonly<Record<string, string>>
  readonly headers: Readonly<Record<string, string>>
  /** The request body as text. */
  readonly body: string
}

/** Retry options that make every call a single attempt. */
export const noRetry = { maxAttempts: 1 } as const

/** The error a call failed with, its tag checked. */
export const failsWith = <A, E extends { readonly _tag: string }, R>(effect: Effect.Effect<A, E, R>, tag: string) =>
  Effect.gen(function*() {
    const error = yield* Effect.flip(effect)
    assert.strictEqual(error._tag, tag, `expected ${tag}, got ${error._tag}: ${String(error)}`)
    return error
  })

/**
 * A plain and a TLS fault-injection server (the second with a self-signed certificate, given as `cert`), open
 * until `scope` closes: for tests outside an effect (`beforeAll`), such as the pollution tests, whose servers run
 * in the test process while a child process makes the calls.
 */
export const plainAndTlsServers = (scope: Scope.Scope) =>
  Effect.runPromise(
    Effect.gen(function*() {
      const cert = yield* TlsTest.selfSigned()
      return { cert, plain: yield* TestServer.make(), secure: yield* TestServer.make({ tls: cert }) }
    }).pipe(Scope.provide(scope))
  )

/** Runs `effect` with a logger that keeps every line (logfmt, annotations included). */
export const captureLogs = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const logger = Logger.map(Logger.formatLogFmt, (line) => {
      lines.push(line)
    })
    const value = yield* effect.pipe(Effect.provide(Logger.layer([logger])))
    return { value, lines }
  })
