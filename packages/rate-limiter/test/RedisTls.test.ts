/**
 * RELIABILITY 11 for Redis: a `rediss://` URL to a server whose certificate
 * nobody trusts is refused, with a typed error naming the URL without its
 * password, and no command goes out, in clear or encrypted. The server is a
 * recording TLS endpoint (`support/tlsRedis.ts`) with a certificate made at
 * test time; a client told to trust it gets through to the real Redis, which
 * shows the recorder sees what a client sends.
 *
 * `RedisStore` has no option to trust another CA or to turn verification off
 * (it sets `rejectUnauthorized: true` and Node's `checkServerIdentity` itself;
 * an `undefined` `checkServerIdentity` made every `rediss://` connection fail
 * before it opened, trusted or not); `NodeRedis.layer`, which the
 * downloader's Redis queue and the client's Redis breaker take their `Redis`
 * service from, verifies by Node's default unless its caller passes
 * `socket.rejectUnauthorized: false`.
 */
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import { assert, it } from "@effect/vitest"
import * as LoggingTest from "@httpkit/testing/LoggingTest"
import * as RedisPrefix from "@httpkit/testing/RedisPrefix"
import * as RedisTest from "@httpkit/testing/RedisTest"
import * as TlsTest from "@httpkit/testing/TlsTest"
import { Context, Effect, Layer } from "effect"
import * as LimiterStore from "../src/LimiterStore.ts"
import * as Policy from "../src/Policy.ts"
import * as RateLimiter from "../src/RateLimiter.ts"
import * as RedisStore from "../src/RedisStore.ts"
import { sleepLive } from "./support/items.ts"
import * as TlsRedis from "./support/tlsRedis.ts"

const password = "s3cret-pa55"

/** A limiter with `policy` on the store `layer` provides, which lives as long as the scope. */
const limiterOver = <E>(
  layer: Layer.Layer<LimiterStore.LimiterStore, E>,
  policy: Policy.Policy = Policy.window({ limit: 5, window: "1 second" })
) =>
  Effect.flatMap(Layer.build(layer), (context) =>
    RateLimiter.make({ policies: [policy] }).pipe(
      Effect.provideService(LimiterStore.LimiterStore, Context.get(context, LimiterStore.LimiterStore))
    ))

/** Nothing reached the endpoint but TLS handshakes: no byte after one, no Redis command or password in clear. */
const onlyHandshakes = (endpoint: TlsRedis.TlsRedis) => {
  assert.isAtLeast(endpoint.connections(), 1, "the client never tried")
  assert.strictEqual(endpoint.received().length, 0, `sent after the handshake: ${endpoint.received().toString()}`)
  const wire = endpoint.wire()
  assert.strictEqual(wire[0], 0x16, "the first byte on the wire opens a TLS handshake record")
  const text = wire.toString("latin1")
  for (const clear of [password, "AUTH", "HELLO", "EVALSHA", "PING", "CLIENT"]) assert.notInclude(text, clear)
}

/** One acquisition that never waits: the error's tag when refused. */
const acquireNow = (limiter: RateLimiter.Service) =>
  Effect.scoped(limiter.acquire({ key: "k", maxWait: 0 })).pipe(
    Effect.as("granted"),
    Effect.catch((error) => Effect.succeed(error._tag))
  )

/**
 * A window of 2 a minute through `endpoint`: two acquisitions go, and the third is refused by the count kept in
 * Redis (so the two before went through the endpoint), encrypted on the wire.
 */
const assertReachesRedisEncrypted = (limiter: RateLimiter.Service, endpoint: TlsRedis.TlsRedis) =>
  Effect.gen(function*() {
    assert.deepStrictEqual(
      [yield* acquireNow(limiter), yield* acquireNow(limiter), yield* acquireNow(limiter)],
      ["granted", "granted", "RateLimitExceededError"]
    )
    assert.include(endpoint.received().toString("latin1"), "EVALSHA")
    assert.notInclude(endpoint.wire().toString("latin1"), "EVALSHA")
  })

await RedisTest.describeWithRedis("Redis over TLS (RELIABILITY 11)", () => {
  it.live(
    "rediss:// to an untrusted self-signed certificate: acquire fails with RateLimiterUnavailableError naming rediss://REDACTED@127.0.0.1, 0 bytes sent after the handshake, retries refused too",
    () =>
      LoggingTest.withLines((logs) =>
        Effect.gen(function*() {
          const endpoint = yield* TlsRedis.make()
          const limiter = yield* limiterOver(
            RedisStore.layer({ url: endpoint.url(`someone:${password}`), timeout: "250 millis" })
          )
          const error = yield* Effect.flip(Effect.scoped(limiter.acquire({ key: "k" })))
          assert.strictEqual(error._tag, "RateLimiterUnavailableError")
          if (error._tag === "RateLimiterUnavailableError") {
            assert.strictEqual(error.backend, "redis")
            assert.include(error.detail, `rediss://REDACTED@127.0.0.1:${endpoint.port}`)
            assert.match(error.detail, /certificate/i)
            for (const text of [error.detail, error.message, JSON.stringify(error), String(error)]) {
              assert.notInclude(text, password)
            }
          }
          // The store keeps trying in the background; every attempt is refused the same way.
          for (let i = 0; i < 50 && endpoint.connections() < 3; i++) yield* sleepLive(100)
          assert.isAtLeast(endpoint.connections(), 3)
          assert.strictEqual(
            (yield* Effect.flip(Effect.scoped(limiter.acquire({ key: "k" }))))._tag,
            "RateLimiterUnavailableError"
          )
          onlyHandshakes(endpoint)
          assert.isNotEmpty(logs.filter((line) => line.includes("cannot reach Redis")))
          for (const line of logs) assert.notInclude(line, password)
        }).pipe(Effect.scoped)
      ),
    30_000
  )

  it.live(
    "the same endpoint through NodeRedis.layer (how the downloader's queue and the client's breaker connect) fails the layer with RedisError, 0 bytes after the handshake",
    () =>
      Effect.gen(function*() {
        const endpoint = yield* TlsRedis.make()
        const error = yield* Effect.flip(
          limiterOver(
            RedisStore.layerRedis().pipe(Layer.provide(NodeRedis.layer({ url: endpoint.url(`someone:${password}`) })))
          )
        )
        assert.strictEqual(error._tag, "RedisError")
        assert.match(String(error.cause), /certificate/i)
        assert.notInclude(String(error), password)
        onlyHandshakes(endpoint)
      }).pipe(Effect.scoped),
    30_000
  )

  it.live(
    "trusting that certificate (NodeRedis.layer with socket.ca, then RedisStore.layerRedis): 2 acquisitions reach Redis through the endpoint, encrypted on the wire",
    () =>
      Effect.gen(function*() {
        const endpoint = yield* TlsRedis.make({ forward: true })
        const prefix = yield* RedisPrefix.make("rl-tls")
        const limiter = yield* limiterOver(
          RedisStore.layerRedis({ prefix, timeout: "5 seconds" }).pipe(
            Layer.provide(NodeRedis.layer({ url: endpoint.url(), socket: { tls: true, ca: endpoint.cert } }))
          ),
          Policy.window({ limit: 2, window: "1 minute" })
        )
        yield* assertReachesRedisEncrypted(limiter, endpoint)
      }).pipe(Effect.scoped),
    30_000
  )

  it.live(
    "rediss:// to a server whose certificate Node's CAs trust: RedisStore.layer connects, 2 acquisitions reach Redis, nothing in clear on the wire",
    () =>
      Effect.gen(function*() {
        const endpoint = yield* TlsRedis.make({ forward: true })
        yield* TlsTest.trusting(endpoint.cert)
        const limiter = yield* limiterOver(
          RedisStore.layer({ url: endpoint.url(), prefix: yield* RedisPrefix.make("rl-tls"), timeout: "5 seconds" }),
          Policy.window({ limit: 2, window: "1 minute" })
        )
        yield* assertReachesRedisEncrypted(limiter, endpoint)
      }).pipe(Effect.scoped),
    30_000
  )

  it.live(
    "a trusted certificate for another host (127.0.0.2 is not in its names): refused, RateLimiterUnavailableError, 0 bytes after the handshake",
    () =>
      Effect.gen(function*() {
        const endpoint = yield* TlsRedis.make({ host: "127.0.0.2" })
        yield* TlsTest.trusting(endpoint.cert)
        const limiter = yield* limiterOver(RedisStore.layer({ url: endpoint.url(), timeout: "250 millis" }))
        const error = yield* Effect.flip(Effect.scoped(limiter.acquire({ key: "k" })))
        assert.strictEqual(error._tag, "RateLimiterUnavailableError")
        if (error._tag === "RateLimiterUnavailableError") {
          assert.include(error.detail, `rediss://127.0.0.2:${endpoint.port}`)
          assert.match(error.detail, /127\.0\.0\.2 is not in the cert's list/)
        }
        onlyHandshakes(endpoint)
      }).pipe(Effect.scoped),
    30_000
  )

  it("RedisStore takes no option to turn verification off or to trust another CA", () => {
    // @ts-expect-error no such option: verification is always on
    const off: RedisStore.Options = { url: "rediss://127.0.0.1:6380", rejectUnauthorized: false }
    // @ts-expect-error no such option: the store trusts Node's CAs only
    const ca: RedisStore.Options = { url: "rediss://127.0.0.1:6380", ca: "-----BEGIN CERTIFICATE-----" }
    assert.isDefined(off)
    assert.isDefined(ca)
  })
})
