/**
 * Reading what callers hand in by its own keys only, so that a polluted
 * `Object.prototype` changes nothing (RELIABILITY 10): with
 * `Object.prototype.timeout` set by some other code, an option the caller left
 * out stays out instead of taking the polluted value. Objects handed to
 * undici, Node or Effect's Schema are built the same way: without a
 * prototype, and with every option they read pinned as an own property, so
 * that the object literals they are copied into (`{ ...options }`) cannot
 * inherit either. Every httpkit package reads its options through this module.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"

/**
 * `record[key]` when `record` has `key` as its own property, otherwise `undefined`.
 *
 * @category utils
 * @since 0.1.0
 */
export const own = <T extends object, K extends keyof T>(record: T | null | undefined, key: K): T[K] | undefined =>
  record !== null && record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined

/**
 * `fields` as an object with a null prototype: exactly these keys, nothing inherited.
 *
 * @category utils
 * @since 0.1.0
 */
export const exactly = <A extends object>(fields: A): A => Object.assign(Object.create(null), fields)

/**
 * `fields`, with a null prototype, and every name in `pinned` that `fields`
 * lacks set to `undefined` as an own property: a copy made with `{ ...object }`
 * keeps them, so reading them from the copy never reaches `Object.prototype`.
 *
 * @category utils
 * @since 0.1.0
 */
export const pinned = <A extends object>(pinnedNames: ReadonlyArray<string>, fields: A): A => {
  const out: Record<string, unknown> = Object.create(null)
  for (const name of pinnedNames) out[name] = undefined
  return Object.assign(out, fields) as A
}

/**
 * Every option Effect reads when it makes a span (`Effect.withSpan`,
 * `withSpanScoped`, `makeSpan`, `useSpan`, `Effect.fn`'s options), each with
 * a plain `options?.name` or `options.name`: from the options given, or from
 * the copy `{ ...options, captureStackTrace }` it makes of them.
 *
 * @category models
 * @since 0.1.0
 */
export const spanOptionNames: ReadonlyArray<string> = [
  "annotations",
  "attributes",
  "captureStackTrace",
  "kind",
  "level",
  "links",
  "parent",
  "root",
  "sampled"
]

/**
 * `fields` as the options of an Effect span, read by their own keys only:
 * every name in `spanOptionNames` that `fields` lacks pinned as `undefined`
 * (Effect's default), kept by the copies Effect makes. Every span httpkit
 * makes with options is made with it: with `Object.prototype.links`
 * polluted, a span made from a bare literal fails with "options.links is not
 * iterable", and a polluted `parent`, `root` or `attributes` would move the
 * span or add to it. Its `attributes` are copied onto an object without a
 * prototype too: Effect reads them with `for...in`, which would add a
 * polluted enumerable name as an attribute of the span.
 *
 * @category utils
 * @since 0.1.0
 */
export const spanOptions = <A extends object>(fields: A): A => {
  const attributes: unknown = own(fields as { readonly attributes?: unknown }, "attributes")
  return pinned(
    spanOptionNames,
    typeof attributes === "object" && attributes !== null ? { ...fields, attributes: exactly(attributes) } : fields
  )
}

const isPlainObject = (value: object): boolean => {
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/**
 * A deep copy of plain data keeping own enumerable string keys only: every
 * plain object (a literal or a null-prototype object) becomes a null-prototype
 * object and every array a dense array; anything else (a class instance, a
 * function, a `Duration`, a `Redacted`) is kept as it is. Reading an absent
 * key of the copy gives `undefined` whatever `Object.prototype` holds, and a
 * decoder given the copy (Effect's `Schema` reads optional fields with `in`)
 * cannot pick an inherited value up. A key whose value is `undefined` is left
 * out, as absent: `{ segments: undefined }` (what `flag ? n : undefined`
 * gives) means "not set", where a decoder would call it "absent, expected a
 * number".
 *
 * @category utils
 * @since 0.1.0
 */
export const ownData = <A>(value: A): A => copy(value, new Map()) as A

const copy = (value: unknown, seen: Map<object, unknown>): unknown => {
  if (typeof value !== "object" || value === null) return value
  const known = seen.get(value)
  if (known !== undefined) return known
  if (Array.isArray(value)) {
    const out: Array<unknown> = []
    seen.set(value, out)
    for (let i = 0; i < value.length; i++) out.push(Object.hasOwn(value, i) ? copy(value[i], seen) : undefined)
    return out
  }
  if (!isPlainObject(value)) return value
  const out: Record<string, unknown> = Object.create(null)
  seen.set(value, out)
  for (const key of Object.keys(value)) {
    const field = (value as Record<string, unknown>)[key]
    if (field !== undefined) out[key] = copy(field, seen)
  }
  return out
}

/**
 * `Base` (a Schema class: `Schema.TaggedError`, `Schema.Class`), with a
 * constructor that reads its fields by own keys: Effect's Schema reads an
 * absent optional field with `in`, so `new SomeError({ ...context })` would
 * otherwise take a polluted `Object.prototype`'s value as the error's own
 * (its `retryAfterMillis`, `status` or `requestId`). Use it as
 * `class E extends Own.fields(Schema.TaggedError<E>()("E", {...})) {}`.
 *
 * Reading an absent field of the instance still reaches `Object.prototype`,
 * as for any object: code deciding on an optional field reads it with `own`.
 *
 * @category utils
 * @since 0.1.0
 */
export const fields = <C extends new(...args: Array<any>) => object>(Base: C): C =>
  class extends Base {
    constructor(...args: Array<any>) {
      super(...(args.length === 0 ? args : [ownData(args[0]), ...args.slice(1)]))
    }
  }

/** Every field of `Duration`'s object form. */
const durationFields = [
  "weeks",
  "days",
  "hours",
  "minutes",
  "seconds",
  "milliseconds",
  "microseconds",
  "nanoseconds"
] as const

/** The prototype of every `Duration` value. */
const durationPrototype: unknown = Object.getPrototypeOf(Duration.zero)

/**
 * A `Duration.Input` that Effect reads by its own fields: a `Duration` value,
 * a number, string, bigint or pair as it is, and the object form copied field
 * by own field onto an object without a prototype (Effect's
 * `Duration.fromInput` reads the object form's fields with plain reads).
 *
 * @category utils
 * @since 0.1.0
 */
export const ownDuration = (input: Duration.Input): Duration.Input => {
  if (typeof input !== "object" || input === null || Array.isArray(input)) return input
  if (Object.getPrototypeOf(input) === durationPrototype) return input
  const copy: Record<string, unknown> = Object.create(null)
  for (const field of durationFields) {
    if (Object.hasOwn(input, field)) copy[field] = (input as Readonly<Record<string, unknown>>)[field]
  }
  return copy as Duration.Input
}
