/**
 * Reading what callers hand in by its own keys only, so a polluted
 * `Object.prototype` changes nothing (RELIABILITY 10), and building what goes
 * to Effect's Schema constructors without a prototype.
 *
 * Why not plain reads: `options.maxWait` on an object without `maxWait`
 * returns `Object.prototype.maxWait` when someone has set it. Effect's
 * `Duration.fromInput` reads the fields of an object input the same way, and
 * takes any object for a `Duration` once `Object.prototype` holds its type
 * id; Schema constructors copy inherited values of optional fields into the
 * value they make (checked in `test/Pollution.test.ts`).
 */
import * as Duration from "effect/Duration"

/**
 * `from[key]` when `from` is an object holding `key` itself; `undefined` when
 * the key is absent or only inherited, or `from` is not an object.
 */
export const get = <O extends object, K extends keyof O>(from: O | null | undefined, key: K): O[K] | undefined =>
  typeof from === "object" && from !== null && Object.hasOwn(from, key) ? from[key] : undefined

/**
 * A copy of `fields` (its own enumerable keys) on an object without a
 * prototype: what a Schema constructor gets, so it cannot meet an inherited
 * optional field.
 */
export const bare = <A extends object>(fields: A): A => Object.assign(Object.create(null) as A, fields)

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
 * by own field onto an object without a prototype.
 */
export const duration = (input: Duration.Input): Duration.Input => {
  if (typeof input !== "object" || input === null || Array.isArray(input)) return input
  if (Object.getPrototypeOf(input) === durationPrototype) return input
  const copy: Record<string, unknown> = Object.create(null)
  for (const field of durationFields) {
    if (Object.hasOwn(input, field)) copy[field] = (input as Readonly<Record<string, unknown>>)[field]
  }
  return copy as Duration.Input
}

/** `input` in milliseconds, read by own fields (see `duration`); `fallback` when it is `undefined`. */
export const millis = (input: Duration.Input | undefined, fallback: number): number =>
  input === undefined ? fallback : Duration.toMillis(duration(input))
