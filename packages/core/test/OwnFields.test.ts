/**
 * Errors built from objects read their fields by own keys (RELIABILITY 10):
 * Effect's Schema reads an absent optional field with `in`, so without
 * `Own.fields` an error made while `Object.prototype` is polluted took the
 * polluted value as its own field, and its message showed it.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Schema from "effect/Schema"
import * as Own from "../src/Own.ts"
import { RateLimiterUnavailableError, RateLimitExceededError } from "../src/RateLimitError.ts"

/** Runs `body` with `names` set on `Object.prototype`, synchronously, and removes them after. */
const polluted = <A>(names: ReadonlyArray<string>, body: () => A): A => {
  const proto = Object.prototype as Record<string, unknown>
  for (const name of names) proto[name] = `polluted-${name}`
  try {
    return body()
  } finally {
    for (const name of names) delete proto[name]
  }
}

class Probe extends Own.fields(
  Schema.TaggedError<Probe>()("Probe", {
    a: Schema.String,
    b: Schema.optionalKey(Schema.String)
  })
) {}

describe("Own.fields", () => {
  it("an error made under a polluted prototype owns only the fields it was given", () => {
    const [exceeded, unavailable] = polluted(["method", "url", "requestId"], () => [
      new RateLimitExceededError({ key: "api", policy: "rate 1/1s", retryAfterMillis: 10, retryable: true }),
      new RateLimiterUnavailableError({ backend: "redis", detail: "refused", retryable: true })
    ])
    for (const error of [exceeded, unavailable]) {
      for (const name of ["method", "url", "requestId"]) assert.isFalse(Object.hasOwn(error, name), name)
      assert.notInclude(error.message, "polluted")
    }
    assert.strictEqual(exceeded.message, "rate limit rate 1/1s reached for api: a slot frees up in 10 ms")
  })

  it("a message made while the prototype is polluted does not show it", () => {
    const error = new RateLimitExceededError({ key: "api", policy: "rate 1/1s", retryAfterMillis: 10, retryable: true })
    assert.notInclude(polluted(["method", "url"], () => error.message), "polluted")
  })

  it("fields given are kept, and the class still encodes, decodes and is an Error of its tag", () => {
    const error = new RateLimitExceededError({
      method: "GET",
      url: "https://api.example/",
      key: "api",
      policy: "rate 1/1s",
      retryAfterMillis: 10,
      retryable: true
    })
    assert.include(error.message, "(GET https://api.example/)")
    assert.instanceOf(error, Error)
    assert.strictEqual(error._tag, "RateLimitExceededError")
    const probe = new Probe({ a: "x", b: "y" })
    const encoded = Schema.encodeUnknownSync(Probe)(probe)
    assert.deepStrictEqual({ ...encoded }, { _tag: "Probe", a: "x", b: "y" })
    const decoded = Schema.decodeUnknownSync(Probe)({ _tag: "Probe", a: "z" })
    assert.instanceOf(decoded, Probe)
    assert.isFalse(Object.hasOwn(decoded, "b"))
  })

  it("a class without Own.fields takes the polluted value (what the mixin prevents)", () => {
    class Plain extends Schema.TaggedError<Plain>()("Plain", { b: Schema.optionalKey(Schema.String) }) {}
    const plain = polluted(["b"], () => new Plain({}))
    assert.strictEqual(Object.hasOwn(plain, "b") ? plain.b : undefined, "polluted-b")
    const probe = polluted(["b"], () => new Probe({ a: "x" }))
    assert.isFalse(Object.hasOwn(probe, "b"))
  })
})

describe("Own.ownData", () => {
  it("leaves keys whose value is undefined out, as absent, at every depth, and keeps undefined in arrays", () => {
    const copy = Own.ownData({ a: 1, b: undefined, nested: { c: undefined, d: "x" }, list: [undefined, 2] })
    assert.deepStrictEqual(Object.keys(copy), ["a", "nested", "list"])
    assert.deepStrictEqual(Object.keys(copy.nested), ["d"])
    assert.deepStrictEqual(copy.list, [undefined, 2])
  })

  it("an optional field given as undefined is absent to a decoder, and to an error's constructor", () => {
    const decode = Schema.decodeUnknownSync(Schema.Struct({ n: Schema.optionalKey(Schema.Number) }))
    assert.throws(() => decode({ n: undefined }))
    assert.deepStrictEqual({ ...decode(Own.ownData({ n: undefined })) }, {})
    const probe = new Probe({ a: "a", b: undefined as unknown as string })
    assert.isFalse(Object.hasOwn(probe, "b"))
  })
})
