import { assert, describe, it } from "@effect/vitest"
import * as Auth from "@httpkit/client/Auth"
import * as DurationInput from "@httpkit/core/DurationInput"
import { ServerControl, TestServer } from "@httpkit/testing"
import * as ServerSuite from "@httpkit/testing/ServerSuite"
import { recordingTracer } from "@httpkit/testing/TracingTest"
import {
  Config,
  ConfigProvider,
  Context,
  Deferred,
  Effect,
  Exit,
  Fiber,
  Layer,
  Option,
  Redacted,
  Ref,
  Schema,
  Scope
} from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import { TestClock } from "effect/testing"
import { inspect } from "node:util"
import { captureLogs } from "./support.ts"

const secret = "s3cr3t-token-value"

/** The snapshot's headers with the values revealed, for assertions. */
const revealed = (auth: Auth.Auth) =>
  Effect.map(auth.current, (snapshot) => ({
    generation: snapshot.generation,
    headers: snapshot.headers.map(([name, value]) => [name, Redacted.value(value)])
  }))

class HookError extends Schema.TaggedError<HookError>()("HookError", { message: Schema.String }) {}

describe("Auth constructors", () => {
  it.effect("bearer sends authorization: Bearer <token>", () =>
    Effect.gen(function*() {
      const auth = yield* Auth.bearer(Redacted.make("token-1"))
      assert.deepStrictEqual(yield* revealed(auth), { generation: 0, headers: [["authorization", "Bearer token-1"]] })
      assert.deepStrictEqual([...auth.secretHeaderNames], ["authorization"])
      const plain = yield* Auth.bearer("token-2")
      assert.deepStrictEqual((yield* revealed(plain)).headers, [["authorization", "Bearer token-2"]])
      for (const [, value] of (yield* plain.current).headers) assert.isTrue(Redacted.isRedacted(value))
    }))

  it.effect("apiKey sends the key under the lower-cased header", () =>
    Effect.gen(function*() {
      const auth = yield* Auth.apiKey("X-Api-Key", "key-1")
      assert.deepStrictEqual((yield* revealed(auth)).headers, [["x-api-key", "key-1"]])
      assert.isTrue(auth.secretHeaderNames.has("x-api-key"))
    }))

  it.effect("anthropic sends x-api-key and anthropic-version (default 2023-06-01)", () =>
    Effect.gen(function*() {
      const auth = yield* Auth.anthropic(Redacted.make("sk-ant-test-1"))
      assert.deepStrictEqual((yield* revealed(auth)).headers, [
        ["x-api-key", "sk-ant-test-1"],
        ["anthropic-version", "2023-06-01"]
      ])
      assert.deepStrictEqual([...auth.secretHeaderNames].toSorted(), ["anthropic-version", "x-api-key"])
      const pinned = yield* Auth.anthropic("sk-ant-test-1", { version: "2024-01-01" })
      assert.deepStrictEqual((yield* revealed(pinned)).headers[1], ["anthropic-version", "2024-01-01"])
    }))

  it.effect("headers sends every entry in order, lower-cased, all secret", () =>
    Effect.gen(function*() {
      const auth = yield* Auth.headers({ "X-Tenant": "acme", "X-Tenant-Key": Redacted.make("k-1") })
      assert.deepStrictEqual((yield* revealed(auth)).headers, [["x-tenant", "acme"], ["x-tenant-key", "k-1"]])
      assert.deepStrictEqual([...auth.secretHeaderNames], ["x-tenant", "x-tenant-key"])
    }))

  it.effect("none sends nothing, and set can add credentials later", () =>
    Effect.gen(function*() {
      const auth = yield* Auth.none
      assert.deepStrictEqual(yield* revealed(auth), { generation: 0, headers: [] })
      assert.strictEqual(auth.secretHeaderNames.size, 0)
      assert.isFalse(yield* auth.refresh(0))
      yield* auth.set([["X-Api-Key", "late"]])
      assert.deepStrictEqual(yield* revealed(auth), { generation: 1, headers: [["x-api-key", "late"]] })
      assert.isTrue(auth.secretHeaderNames.has("x-api-key"))
    }))

  it.effect("set replaces the credentials at once and bumps the generation", () =>
    Effect.gen(function*() {
      const auth = yield* Auth.bearer("old")
      const before = yield* auth.current
      yield* auth.set([["authorization", Redacted.make("Bearer new")], ["X-Extra", "e"]])
      assert.deepStrictEqual(yield* revealed(auth), {
        generation: 1,
        headers: [["authorization", "Bearer new"], ["x-extra", "e"]]
      })
      assert.isTrue(auth.secretHeaderNames.has("x-extra"))
      yield* auth.set([["authorization", "Bearer newer"]])
      assert.strictEqual((yield* auth.current).generation, 2)
      // snapshots already handed out do not change
      assert.strictEqual(before.generation, 0)
      assert.strictEqual(Redacted.value(before.headers[0]![1]), "Bearer old")
      // a 401 on an attempt made before the set: newer credentials are in place
      assert.isTrue(yield* auth.refresh(0))
      assert.isFalse(yield* auth.refresh(2))
    }))
})

describe("Auth secrets", () => {
  it.effect("never appear in String, JSON or inspection of an auth or a snapshot", () =>
    Effect.gen(function*() {
      const auths = [
        yield* Auth.bearer(secret),
        yield* Auth.apiKey("x-api-key", secret),
        yield* Auth.anthropic(secret),
        yield* Auth.headers({ "x-secret": secret })
      ]
      for (const auth of auths) {
        const snapshot = yield* auth.current
        for (
          const text of [
            String(auth),
            JSON.stringify(auth),
            inspect(auth, { depth: 10 }),
            JSON.stringify(snapshot),
            inspect(snapshot, { depth: 10 }),
            String(snapshot.headers),
            `${snapshot.headers[0]![1]}`
          ]
        ) {
          assert.notInclude(text, secret)
        }
      }
      assert.strictEqual(String(auths[0]), "ClientAuth(bearer: authorization)")
      assert.deepStrictEqual(JSON.parse(JSON.stringify(auths[2])), {
        _id: "ClientAuth",
        kind: "anthropic",
        headers: ["x-api-key", "anthropic-version"]
      })
    }))

  it.effect("a failed refresh logs a warning with the error's tag and a scrubbed message, never the token", () =>
    Effect.gen(function*() {
      const fresh = "fresh-token-must-not-leak"
      const auth = yield* Auth.bearer(secret, {
        onUnauthorized: Effect.fail(new HookError({ message: `server refused Bearer ${secret} (${secret})` }))
      })
      const { lines, value } = yield* captureLogs(auth.refresh(0))
      assert.isFalse(value)
      assert.lengthOf(lines, 1)
      assert.include(lines[0]!, "level=WARN")
      assert.include(lines[0]!, "HookError")
      assert.include(lines[0]!, "refresh failed (failure)")
      assert.include(lines[0]!, "server refused REDACTED (REDACTED)")
      assert.notInclude(lines[0]!, secret)

      // an error that is a bare string may be the secret itself: only its type is logged
      const primitive = yield* Auth.apiKey("x-api-key", secret, { onUnauthorized: Effect.fail(fresh) })
      const logged = yield* captureLogs(primitive.refresh(0))
      assert.isFalse(logged.value)
      assert.include(logged.lines[0]!, "refresh failed (failure): string")
      assert.notInclude(logged.lines.join("\n"), fresh)
      assert.notInclude(logged.lines.join("\n"), secret)
    }))

  it.effect("invalid header values are refused with AuthConfigError, whose message omits the value", () =>
    Effect.gen(function*() {
      const bad = [`${secret}\r\nx-injected: 1`, `${secret}\n`, `${secret}\u0000`, `${secret}\u0007`, `${secret}\u0100`]
      for (const value of bad) {
        for (
          const make of [
            Auth.bearer(value),
            Auth.apiKey("x-api-key", Redacted.make(value)),
            Auth.anthropic(value),
            Auth.headers({ "x-custom": value })
          ]
        ) {
          const error = yield* Effect.flip(make)
          assert.strictEqual(error._tag, "AuthConfigError")
          assert.strictEqual(error.reason, "invalid-header-value")
          for (const text of [error.message, String(error), JSON.stringify(error), inspect(error)]) {
            assert.notInclude(text, secret)
          }
        }
      }
      const crlf = yield* Effect.flip(Auth.bearer("a\r\nb"))
      assert.strictEqual(crlf.header, "authorization")
      assert.strictEqual(
        crlf.message,
        "invalid auth configuration: headers.authorization is set (value not shown), " +
          "expected a header value without CR, LF, NUL, other control characters or characters above U+00FF"
      )
      assert.deepStrictEqual(crlf.problems, [{
        setting: "headers.authorization",
        expected: "a header value without CR, LF, NUL, other control characters or characters above U+00FF"
      }])
      const version = yield* Effect.flip(Auth.anthropic("k", { version: "2023-06-01\r\nx: y" }))
      assert.strictEqual(version.header, "anthropic-version")
    }))

  it.effect("invalid names, empty values and duplicates are refused; an invalid name is not echoed", () =>
    Effect.gen(function*() {
      const name = yield* Effect.flip(Auth.headers({ [`bad name ${secret}`]: "v" }))
      assert.strictEqual(name.reason, "invalid-header-name")
      assert.isUndefined(name.header)
      assert.strictEqual(name.position, 0)
      assert.notInclude(name.message, secret)
      assert.strictEqual((yield* Effect.flip(Auth.apiKey("x-api-key:", "k"))).reason, "invalid-header-name")
      assert.strictEqual((yield* Effect.flip(Auth.apiKey("", "k"))).reason, "invalid-header-name")
      assert.strictEqual((yield* Effect.flip(Auth.bearer(""))).reason, "empty-header-value")
      assert.strictEqual((yield* Effect.flip(Auth.anthropic(Redacted.make("")))).reason, "empty-header-value")
      const duplicate = yield* Effect.flip(Auth.headers({ "X-A": "1", "x-a": "2" }))
      assert.strictEqual(duplicate.reason, "duplicate-header-name")
      assert.strictEqual(duplicate.position, 1)
      // One shape for every configuration error: setting, value (when it may be shown), what is expected.
      assert.strictEqual(
        name.message,
        "invalid auth configuration: headers[0] is set (value not shown), " +
          "expected a header name that is an HTTP token (letters, digits and !#$%&'*+.^_`|~-, no spaces)"
      )
      assert.strictEqual(
        (yield* Effect.flip(Auth.bearer(""))).message,
        "invalid auth configuration: headers.authorization is \"\", expected a header value that is not empty"
      )
      assert.strictEqual(
        duplicate.message,
        "invalid auth configuration: headers.x-a is given again at position 1, expected each header name once (in any case)"
      )
    }))

  it.effect("set refuses invalid credentials and keeps the old ones", () =>
    Effect.gen(function*() {
      const auth = yield* Auth.bearer("good")
      const error = yield* Effect.flip(auth.set([["authorization", `Bearer ${secret}\r\nx: 1`]]))
      assert.strictEqual(error.reason, "invalid-header-value")
      assert.notInclude(error.message, secret)
      assert.strictEqual((yield* Effect.flip(auth.set([["a b", "v"]]))).reason, "invalid-header-name")
      assert.deepStrictEqual(yield* revealed(auth), { generation: 0, headers: [["authorization", "Bearer good"]] })
      assert.isFalse(auth.secretHeaderNames.has("a b"))
    }))
})

describe("Auth refresh", () => {
  it.effect("50 concurrent refreshes of one generation share one run of the hook", () =>
    Effect.gen(function*() {
      const runs = yield* Ref.make(0)
      const gate = yield* Deferred.make<void>()
      const auth = yield* Auth.bearer("token-1", {
        onUnauthorized: Ref.update(runs, (n) => n + 1).pipe(
          Effect.andThen(Deferred.await(gate)),
          Effect.as(Redacted.make("token-2"))
        )
      })
      const entered = yield* Ref.make(0)
      const fibers = yield* Effect.forEach(
        Array.from({ length: 50 }),
        () => Effect.forkChild(Ref.update(entered, (n) => n + 1).pipe(Effect.andThen(auth.refresh(0))))
      )
      while ((yield* Ref.get(entered)) < 50) yield* Effect.yieldNow
      yield* Effect.yieldNow
      assert.isTrue(fibers.every((fiber) => fiber.pollUnsafe() === undefined), "all wait for the one run")
      yield* Deferred.succeed(gate, undefined)
      const results = yield* Fiber.joinAll(fibers)
      assert.lengthOf(results, 50)
      assert.isTrue(results.every((ok) => ok))
      assert.strictEqual(yield* Ref.get(runs), 1)
      assert.deepStrictEqual(yield* revealed(auth), { generation: 1, headers: [["authorization", "Bearer token-2"]] })

      // a late 401 for the old generation: the new token is already in place
      assert.isTrue(yield* auth.refresh(0))
      assert.strictEqual(yield* Ref.get(runs), 1)
      // a 401 for the new generation runs the hook again
      yield* Deferred.succeed(gate, undefined)
      assert.isTrue(yield* auth.refresh(1))
      assert.strictEqual(yield* Ref.get(runs), 2)
      assert.strictEqual((yield* auth.current).generation, 2)
    }))

  it.effect("closing the Auth layer interrupts a refresh hook still running; its waiters get false", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const interrupted = yield* Deferred.make<void>()
      const hook = Deferred.succeed(started, undefined).pipe(
        Effect.andThen(Effect.never),
        Effect.as("token-2"),
        Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))
      )
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        Auth.layerBearer("token-1", { onUnauthorized: hook, refreshTimeout: "1 hour" }),
        scope
      )
      const auth = Context.get(context, Auth.ClientAuth)
      const waiters = yield* Effect.forEach([1, 2], () => Effect.forkChild(auth.refresh(0)))
      yield* Deferred.await(started)
      yield* Scope.close(scope, Exit.void)
      // The hook was interrupted by the layer's scope, not by a timeout (the TestClock never moved).
      assert.isTrue(yield* Deferred.isDone(interrupted))
      assert.deepStrictEqual(yield* Fiber.joinAll(waiters), [false, false])
    }))

  it.effect("without a hook, refresh is false", () =>
    Effect.gen(function*() {
      const auth = yield* Auth.apiKey("x-api-key", "k")
      assert.isFalse(yield* auth.refresh(0))
      assert.strictEqual((yield* auth.current).generation, 0)
    }))

  it.effect("a failing or dying hook gives false, keeps the old credentials, and is tried again after refreshBackoff (5 s)", () =>
    Effect.gen(function*() {
      const runs = yield* Ref.make(0)
      const auth = yield* Auth.bearer("token-1", {
        onUnauthorized: Ref.updateAndGet(runs, (n) => n + 1).pipe(
          Effect.flatMap((n) =>
            n === 1
              ? Effect.fail(new HookError({ message: "nope" }))
              : n === 2
              ? Effect.die(new Error("boom"))
              : Effect.succeed("token-2")
          )
        )
      })
      const failed = yield* captureLogs(auth.refresh(0))
      assert.isFalse(failed.value)
      assert.include(failed.lines[0]!, "refresh failed (failure): HookError: nope")
      // Within the backoff, the same credentials get the same answer without a run.
      yield* TestClock.adjust("4999 millis")
      assert.isFalse(yield* auth.refresh(0))
      assert.strictEqual(yield* Ref.get(runs), 1)
      yield* TestClock.adjust("1 milli")
      const died = yield* captureLogs(auth.refresh(0))
      assert.isFalse(died.value)
      assert.include(died.lines[0]!, "refresh failed (defect): Error: boom")
      assert.deepStrictEqual(yield* revealed(auth), { generation: 0, headers: [["authorization", "Bearer token-1"]] })
      yield* TestClock.adjust("5 seconds")
      assert.isTrue(yield* auth.refresh(0))
      assert.strictEqual(yield* Ref.get(runs), 3)
    }))

  it.effect("a hook that hangs gives false after the timeout (30 seconds by default)", () =>
    Effect.gen(function*() {
      const auth = yield* Auth.bearer("token-1", { onUnauthorized: Effect.never })
      const fibers = yield* Effect.forEach([1, 2, 3], () => Effect.forkChild(captureLogs(auth.refresh(0))))
      yield* TestClock.adjust("29 seconds")
      assert.isUndefined(fibers[0]!.pollUnsafe())
      yield* TestClock.adjust("1 second")
      const results = yield* Fiber.joinAll(fibers)
      assert.deepStrictEqual(results.map((r) => r.value), [false, false, false])
      // one run, so one warning, logged by the run started from the first caller's context
      assert.deepStrictEqual(results.map((r) => r.lines.length), [1, 0, 0])
      assert.include(results[0]!.lines[0]!, "refresh failed (timeout)")
      assert.strictEqual((yield* auth.current).generation, 0)
    }))

  it.effect("refreshTimeout takes \"5s\" as \"5 seconds\"; one that is no duration fails with AuthConfigError", () =>
    Effect.gen(function*() {
      const auth = yield* Auth.bearer("token-1", {
        onUnauthorized: Effect.sleep("10 seconds").pipe(Effect.as("token-2")),
        refreshTimeout: "5s"
      })
      const fiber = yield* Effect.forkChild(auth.refresh(0))
      yield* TestClock.adjust("4999 millis")
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust("1 milli")
      assert.isFalse(yield* Fiber.join(fiber))
      const error = yield* Effect.flip(
        Auth.apiKey("x-api-key", "k", { refreshTimeout: "5 secs please" as DurationInput.Input })
      )
      assert.strictEqual(error.reason, "invalid-refresh-timeout")
      assert.strictEqual(
        error.message,
        `invalid auth configuration: refreshTimeout is "5 secs please", expected ${DurationInput.accepted}`
      )
      // @ts-expect-error a boolean is no refreshTimeout
      const wrong: Auth.RefreshOptions<string> = { refreshTimeout: true }
      assert.strictEqual((yield* Effect.flip(Auth.bearer("t", wrong))).reason, "invalid-refresh-timeout")
    }))

  it.effect("refreshTimeout bounds the hook", () =>
    Effect.gen(function*() {
      const auth = yield* Auth.anthropic("sk-ant-test-1", {
        onUnauthorized: Effect.sleep("10 seconds").pipe(Effect.as("sk-ant-test-2")),
        refreshTimeout: "5 seconds"
      })
      const fiber = yield* Effect.forkChild(auth.refresh(0))
      yield* TestClock.adjust("4999 millis")
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust("1 milli")
      assert.isFalse(yield* Fiber.join(fiber))
    }))

  it.effect("a hook that returns an invalid token gives false and logs AuthConfigError without the token", () =>
    Effect.gen(function*() {
      const auth = yield* Auth.bearer("token-1", { onUnauthorized: Effect.succeed(`${secret}\r\nx-injected: 1`) })
      const { lines, value } = yield* captureLogs(auth.refresh(0))
      assert.isFalse(value)
      assert.include(lines[0]!, "refresh failed (invalid): AuthConfigError")
      assert.notInclude(lines.join("\n"), secret)
      assert.deepStrictEqual((yield* revealed(auth)).headers, [["authorization", "Bearer token-1"]])
    }))

  it.effect("interrupting the caller that started the run does not cancel it for the others", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const auth = yield* Auth.bearer("token-1", {
        onUnauthorized: Deferred.await(gate).pipe(Effect.as("token-2"))
      })
      const first = yield* Effect.forkChild(auth.refresh(0))
      yield* Effect.yieldNow
      const second = yield* Effect.forkChild(auth.refresh(0))
      yield* Effect.yieldNow
      yield* Fiber.interrupt(first)
      yield* Deferred.succeed(gate, undefined)
      assert.isTrue(yield* Fiber.join(second))
      assert.strictEqual((yield* auth.current).generation, 1)
    }))

  it.effect("a set while the hook runs wins over the hook's answer", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const auth = yield* Auth.bearer("token-1", {
        onUnauthorized: Deferred.await(gate).pipe(Effect.as("from-hook"))
      })
      const fiber = yield* Effect.forkChild(auth.refresh(0))
      yield* Effect.yieldNow
      yield* auth.set([["authorization", "Bearer from-set"]])
      yield* Deferred.succeed(gate, undefined)
      assert.isTrue(yield* Fiber.join(fiber))
      assert.deepStrictEqual(yield* revealed(auth), { generation: 1, headers: [["authorization", "Bearer from-set"]] })
    }))

  it.effect("refresh keeps headers added with set; the headers hook replaces them all", () =>
    Effect.gen(function*() {
      const auth = yield* Auth.bearer("token-1", { onUnauthorized: Effect.succeed(Redacted.make("token-2")) })
      yield* auth.set([["x-extra", "e"], ["authorization", "Bearer token-1b"]])
      assert.isTrue(yield* auth.refresh(1))
      assert.deepStrictEqual((yield* revealed(auth)).headers, [["x-extra", "e"], ["authorization", "Bearer token-2"]])

      const custom = yield* Auth.headers({ "x-a": "1", "x-b": "2" }, { onUnauthorized: Effect.succeed({ "X-C": "3" }) })
      assert.isTrue(yield* custom.refresh(0))
      assert.deepStrictEqual((yield* revealed(custom)).headers, [["x-c", "3"]])
      assert.deepStrictEqual([...custom.secretHeaderNames], ["x-a", "x-b", "x-c"])
    }))

  it.effect("the hook's requirements are provided from where the auth was built", () =>
    Effect.gen(function*() {
      class TokenSource extends Context.Service<TokenSource, { readonly next: Effect.Effect<string> }>()(
        "test/TokenSource"
      ) {}
      const auth = yield* Auth.bearer("token-1", {
        onUnauthorized: Effect.flatMap(Effect.service(TokenSource), (source) => source.next)
      }).pipe(Effect.provideService(TokenSource, { next: Effect.succeed("token-from-service") }))
      assert.isTrue(yield* auth.refresh(0))
      assert.deepStrictEqual((yield* revealed(auth)).headers, [["authorization", "Bearer token-from-service"]])
    }))
})

describe("ClientAuth", () => {
  it.effect("is absent unless a layer provides it: a client built without it sends no credentials", () =>
    Effect.gen(function*() {
      assert.isTrue(Option.isNone(yield* Effect.serviceOption(Auth.ClientAuth)))
    }))

  it.effect("layers provide it; layerNone can be changed at run time", () =>
    Effect.gen(function*() {
      const read = Effect.flatMap(Effect.service(Auth.ClientAuth), revealed)
      assert.deepStrictEqual(
        (yield* read.pipe(Effect.provide(Auth.layerBearer("t")))).headers,
        [["authorization", "Bearer t"]]
      )
      assert.deepStrictEqual(
        (yield* read.pipe(Effect.provide(Auth.layerApiKey("api-key", "k")))).headers,
        [["api-key", "k"]]
      )
      assert.deepStrictEqual(
        (yield* read.pipe(Effect.provide(Auth.layerAnthropic("sk-ant-test-1")))).headers.map(([name]) => name),
        ["x-api-key", "anthropic-version"]
      )
      assert.deepStrictEqual(
        (yield* read.pipe(Effect.provide(Auth.layerHeaders({ "x-k": "v" })))).headers,
        [["x-k", "v"]]
      )
      const changed = yield* Effect.gen(function*() {
        const auth = yield* Auth.ClientAuth
        yield* auth.set([["x-api-key", "later"]])
        return yield* revealed(auth)
      }).pipe(Effect.provide(Auth.layerNone))
      assert.deepStrictEqual(changed, { generation: 1, headers: [["x-api-key", "later"]] })
      const invalid = yield* Effect.flip(read.pipe(Effect.provide(Auth.layerBearer("a\nb"))))
      assert.strictEqual(invalid._tag, "AuthConfigError")
    }))

  it.effect("set runs in a span named ClientAuth.set, with no credential among its attributes", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      yield* Effect.gen(function*() {
        const auth = yield* Auth.ClientAuth
        yield* auth.set([["x-api-key", "span-secret-1"]])
      }).pipe(Effect.provide(Auth.layerNone), Effect.withTracer(tracer))
      const set = spans.filter((span) => span.name === "ClientAuth.set")
      assert.strictEqual(set.length, 1)
      assert.notInclude(JSON.stringify([...set[0]!.attributes]), "span-secret-1")
    }))

  it.effect("config layers read Config.Redacted from the environment", () =>
    Effect.gen(function*() {
      const env = ConfigProvider.layer(ConfigProvider.fromEnvRecord({
        HTTPKIT_TOKEN: "env-token",
        API_KEY: "env-key",
        ANTHROPIC_API_KEY: "sk-ant-env",
        TENANT_KEY: "tenant-secret"
      }))
      const read = <E>(layer: Layer.Layer<Auth.ClientAuth, E>) =>
        Effect.flatMap(Effect.service(Auth.ClientAuth), revealed).pipe(
          Effect.provide(Layer.provide(layer, env)),
          Effect.map((r) => r.headers)
        )
      assert.deepStrictEqual(yield* read(Auth.layerBearerConfig(Config.Redacted("HTTPKIT_TOKEN"))), [
        ["authorization", "Bearer env-token"]
      ])
      assert.deepStrictEqual(yield* read(Auth.layerApiKeyConfig("x-api-key", Config.Redacted("API_KEY"))), [
        ["x-api-key", "env-key"]
      ])
      assert.deepStrictEqual(
        yield* read(Auth.layerAnthropicConfig(Config.Redacted("ANTHROPIC_API_KEY"), { version: "2023-06-01" })),
        [["x-api-key", "sk-ant-env"], ["anthropic-version", "2023-06-01"]]
      )
      assert.deepStrictEqual(
        yield* read(Auth.layerHeadersConfig(Config.all({ "x-tenant-key": Config.Redacted("TENANT_KEY") }))),
        [["x-tenant-key", "tenant-secret"]]
      )
      const missing = yield* Effect.flip(read(Auth.layerBearerConfig(Config.Redacted("NOT_SET"))))
      assert.notStrictEqual(missing._tag, "AuthConfigError")
      assert.include(String(missing), "NOT_SET")
    }))
})

/** Sets the snapshot's headers on a request, as the client pipeline does at every attempt. */
const authorize = (auth: Auth.Auth, request: HttpClientRequest.HttpClientRequest) =>
  Effect.map(auth.current, (snapshot) => ({
    generation: snapshot.generation,
    request: snapshot.headers.reduce(
      (r, [name, value]) => HttpClientRequest.setHeader(r, name, Redacted.value(value)),
      request
    )
  }))

/** A refresh hook that asks the server for its current token. */
const fetchToken = Effect.gen(function*() {
  const server = yield* TestServer.TestServer
  const { token } = yield* ServerControl.make(server.url).token
  return Redacted.make(token)
})

/** One call with at most one refresh and retry after a 401, as the pipeline does. */
const call = (auth: Auth.Auth, url: string) =>
  Effect.gen(function*() {
    const http = yield* HttpClient.HttpClient
    const first = yield* authorize(auth, HttpClientRequest.get(url))
    const response = yield* http.execute(first.request)
    if (response.status !== 401) return { status: response.status, refreshed: false }
    const refreshed = yield* auth.refresh(first.generation)
    if (!refreshed) return { status: 401, refreshed }
    const again = yield* authorize(auth, HttpClientRequest.get(url))
    return { status: (yield* http.execute(again.request)).status, refreshed }
  })

ServerSuite.describe("Auth against the test server", (it) => {
  it.effect("bearer passes /auth/bearer; after a rotation a 401 refreshes from /auth/token and the retry passes", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const http = yield* HttpClient.HttpClient
      yield* server.reset
      const runs = yield* Ref.make(0)
      const auth = yield* Auth.bearer(Redacted.make("token-1"), {
        onUnauthorized: Ref.update(runs, (n) => n + 1).pipe(Effect.andThen(fetchToken))
      })
      const url = server.urlFor("/auth/bearer")

      const ok = yield* http.execute((yield* authorize(auth, HttpClientRequest.get(url))).request)
      assert.strictEqual(ok.status, 200)
      assert.deepStrictEqual(yield* ok.json, { authenticated: true, token_generation: 1 })

      yield* ServerControl.make(server.url).rotateToken()
      const stale = yield* authorize(auth, HttpClientRequest.get(url))
      assert.strictEqual((yield* http.execute(stale.request)).status, 401)
      assert.isTrue(yield* auth.refresh(stale.generation))
      assert.deepStrictEqual((yield* revealed(auth)).headers, [["authorization", "Bearer token-2"]])
      const retried = yield* http.execute((yield* authorize(auth, HttpClientRequest.get(url))).request)
      assert.strictEqual(retried.status, 200)
      assert.deepStrictEqual(yield* retried.json, { authenticated: true, token_generation: 2 })
      assert.strictEqual(yield* Ref.get(runs), 1)
    }))

  it.effect("20 concurrent calls after a rotation: one refresh, every retry passes", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      yield* server.reset
      const runs = yield* Ref.make(0)
      const auth = yield* Auth.bearer("token-1", {
        onUnauthorized: Ref.update(runs, (n) => n + 1).pipe(Effect.andThen(fetchToken))
      })
      yield* ServerControl.make(server.url).rotateToken()
      const results = yield* Effect.forEach(
        Array.from({ length: 20 }),
        () => call(auth, server.urlFor("/auth/bearer")),
        { concurrency: "unbounded" }
      )
      assert.isTrue(results.every((r) => r.status === 200 && r.refreshed))
      assert.strictEqual(yield* Ref.get(runs), 1)
      assert.strictEqual((yield* auth.current).generation, 1)
    }))

  it.effect("anthropic headers are accepted by /v1/messages", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const http = yield* HttpClient.HttpClient
      yield* server.reset
      const body = { model: "claude-test", max_tokens: 16, messages: [{ role: "user", content: "hi" }] }
      const send = (auth: Auth.Auth) =>
        Effect.gen(function*() {
          const { request } = yield* authorize(
            auth,
            HttpClientRequest.post(server.urlFor("/v1/messages")).pipe(HttpClientRequest.bodyJsonUnsafe(body))
          )
          return yield* http.execute(request)
        })
      const ok = yield* send(yield* Auth.anthropic(Redacted.make("sk-ant-test-1")))
      assert.strictEqual(ok.status, 200)
      const message = (yield* ok.json) as { readonly type: string; readonly content: ReadonlyArray<unknown> }
      assert.strictEqual(message.type, "message")
      assert.isAbove(message.content.length, 0)

      const recorded = (yield* server.requests).filter((r) => r.path === "/v1/messages")
      assert.lengthOf(recorded, 1)
      assert.strictEqual(recorded[0]!.headers["x-api-key"], "sk-ant-test-1")
      assert.strictEqual(recorded[0]!.headers["anthropic-version"], "2023-06-01")

      const wrong = yield* send(yield* Auth.anthropic("wrong-key"))
      assert.strictEqual(wrong.status, 401)
      const noVersion = yield* send(yield* Auth.apiKey("x-api-key", "sk-ant-test-1"))
      assert.strictEqual(noVersion.status, 400)
    }))
})
