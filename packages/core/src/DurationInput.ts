/**
 * Durations as people write them in configuration: `250ms`, `20s`,
 * `1.5 min`, `2m`, `1h`, `1h30m`, Effect's own `"5 seconds"` and
 * `"250 millis"`, or a bare number of milliseconds. One reader for every
 * httpkit package, so that a timeout takes the same forms in the client, the
 * downloader and the environment, and a refused value gets one list of the
 * forms that are accepted.
 *
 * **Details**
 *
 * - A number, or a string that is only a number, is milliseconds: `2500`
 *   and `"2500"` are 2.5 seconds, as they always were in code.
 * - A string is one or more `<number><unit>` parts, with or without spaces
 *   between them, in any letter case: `"1h30m"`, `"1 h 30 min"`. Units:
 *   `ns`, `us`/`µs`, `ms`, `s`, `m`, `h`, `d`, `w`, and their long forms
 *   (`nanos`, `micros`, `millis`/`msec`/`milliseconds`, `sec`/`seconds`,
 *   `min`/`minutes`, `hr`/`hours`, `days`, `weeks`), so every string that
 *   Effect's `Duration.fromInput` reads is read the same way.
 * - Negative, infinite and `NaN` values are refused: none of httpkit's
 *   durations can be one.
 *
 * **Gotchas**
 *
 * `m` is minutes (as in Go, systemd and most CLIs), never months;
 * milliseconds are `ms`.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import * as SchemaTransformation from "effect/SchemaTransformation"
import * as ConfigProblem from "./ConfigProblem.ts"

/**
 * The type of a duration option in code: any `Duration.Input` (a `Duration`,
 * milliseconds, `"5 seconds"`, `{ seconds: 5 }`, a `[seconds, nanos]` pair,
 * nanoseconds as a bigint) or a string that starts with a number, so
 * `"20s"`, `"250ms"` and `"1h30m"` compile without a cast, and a boolean, a
 * `Date` or `"soon"` do not.
 *
 * **Gotchas**
 *
 * The type cannot check the unit: `"20 parsecs"` compiles and is refused
 * when the options are read, with the forms that are accepted. `"Infinity"`
 * (part of `Duration.Input`) compiles and is refused too: no httpkit duration
 * can be infinite.
 *
 * @category models
 * @since 0.1.0
 */
export type Input = Duration.Input | `${number}${string}`

/**
 * What a refused duration is told it should have been; ends every such
 * `ConfigProblem`'s `expected`.
 *
 * @category constants
 * @since 0.1.0
 */
export const accepted =
  "a duration such as 250ms, 20s, 1.5 min, 2m, 1h or 1h30m (units ms, s, m, h, d, w and their long names), or a number of milliseconds"

const unitMillis: Record<string, number> = {
  ns: 1e-6,
  nano: 1e-6,
  nanos: 1e-6,
  nanosecond: 1e-6,
  nanoseconds: 1e-6,
  us: 1e-3,
  "µs": 1e-3,
  micro: 1e-3,
  micros: 1e-3,
  microsecond: 1e-3,
  microseconds: 1e-3,
  ms: 1,
  msec: 1,
  msecs: 1,
  milli: 1,
  millis: 1,
  millisecond: 1,
  milliseconds: 1,
  s: 1_000,
  sec: 1_000,
  secs: 1_000,
  second: 1_000,
  seconds: 1_000,
  m: 60_000,
  min: 60_000,
  mins: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hr: 3_600_000,
  hrs: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000,
  w: 604_800_000,
  week: 604_800_000,
  weeks: 604_800_000
}

const number = String.raw`(?:\d+(?:\.\d*)?|\.\d+)`
const bare = new RegExp(String.raw`^\s*${number}\s*$`)
const whole = new RegExp(String.raw`^\s*(?:${number}\s*[a-zµ]+\s*)+$`, "i")
const part = new RegExp(String.raw`(${number})\s*([a-zµ]+)`, "gi")

/**
 * The milliseconds a duration string stands for, or `undefined` when it is
 * not one of the accepted forms (see the module's **Details**).
 *
 * @category parsing
 * @since 0.1.0
 */
export const parseMillis = (text: string): number | undefined => {
  if (bare.test(text)) return finite(Number(text))
  if (text.length > 200 || !whole.test(text)) return undefined
  let total = 0
  for (const match of text.matchAll(part)) {
    const unit = unitMillis[match[2]!.toLowerCase()]
    if (unit === undefined) return undefined
    total += Number(match[1]) * unit
  }
  return finite(total)
}

const finite = (millis: number): number | undefined => Number.isFinite(millis) && millis >= 0 ? millis : undefined

/**
 * The milliseconds of a duration given in code or configuration: a number
 * (milliseconds), an accepted string, or an Effect `Duration`; `undefined`
 * when it is none of them, negative or infinite.
 *
 * @category parsing
 * @since 0.1.0
 */
export const toMillis = (input: unknown): number | undefined => {
  if (typeof input === "number") return finite(input)
  if (typeof input === "string") return parseMillis(input)
  if (Duration.isDuration(input)) return finite(Duration.toMillis(input))
  return undefined
}

/** The fields of `Duration`'s object form, and the milliseconds of one of each. */
const objectFieldMillis: Record<string, number> = {
  weeks: 604_800_000,
  days: 86_400_000,
  hours: 3_600_000,
  minutes: 60_000,
  seconds: 1_000,
  milliseconds: 1,
  microseconds: 1e-3,
  nanoseconds: 1e-6
}

const isPlainObject = (value: object): boolean => {
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/**
 * The milliseconds of any duration given in code (an `Input`): what
 * `toMillis` takes, and Effect's other forms, read by own fields only: the
 * object form (`{ minutes: 1, seconds: 30 }`: known fields only, at least
 * one, each a finite number of at least 0), a `[seconds, nanos]` pair and
 * nanoseconds as a bigint. `undefined` for anything else, and for what is
 * negative or infinite. Unlike Effect's `Duration.fromInput`, an object with
 * no known field (`{ secs: 20 }`) is refused, not read as zero.
 *
 * @category parsing
 * @since 0.1.0
 */
export const fromInput = (input: unknown): number | undefined => {
  switch (typeof input) {
    case "number":
    case "string":
      return toMillis(input)
    case "bigint":
      return input >= 0n ? finite(Number(input) / 1e6) : undefined
    case "object": {
      if (input === null) return undefined
      if (Duration.isDuration(input)) return toMillis(input)
      if (Array.isArray(input)) {
        const [seconds, nanos] = input as ReadonlyArray<unknown>
        return input.length === 2 && typeof seconds === "number" && typeof nanos === "number" && seconds >= 0 &&
            nanos >= 0
          ? finite(seconds * 1_000 + nanos / 1e6)
          : undefined
      }
      if (!isPlainObject(input)) return undefined
      const keys = Object.keys(input)
      if (keys.length === 0) return undefined
      let total = 0
      for (const key of keys) {
        const unit = Object.hasOwn(objectFieldMillis, key) ? objectFieldMillis[key] : undefined
        const value = (input as Readonly<Record<string, unknown>>)[key]
        if (unit === undefined || typeof value !== "number" || !(value >= 0)) return undefined
        total += value * unit
      }
      return finite(total)
    }
    default:
      return undefined
  }
}

/**
 * The problem of a duration option that `fromInput` refuses: the setting as
 * the user wrote it (`policies[0].window`, `timeout`), the value received
 * (`ConfigProblem.show`) and the accepted forms.
 *
 * @category constructors
 * @since 0.1.0
 */
export const problem = (setting: string, received: unknown): ConfigProblem.ConfigProblem => ({
  setting,
  received: ConfigProblem.show(received),
  expected: accepted
})

/**
 * A duration option: written as a number of milliseconds or an accepted
 * string (`"20s"`, `"1.5 min"`, `"250 millis"`), decoded to milliseconds.
 * A refused value's issue says what is accepted (`accepted`).
 *
 * @category schemas
 * @since 0.1.0
 */
export const DurationInput: Schema.decodeTo<Schema.Number, Schema.Union<readonly [Schema.Number, Schema.String]>> =
  Schema.Union([Schema.Number, Schema.String]).annotate({ expected: accepted }).pipe(
    Schema.decodeTo(
      Schema.Number,
      SchemaTransformation.transformEffect({
        // No input in the issue: a message made from it could carry a secret set by mistake.
        decode: (input: number | string) => {
          const millis = toMillis(input)
          return millis === undefined
            ? Effect.fail(new SchemaIssue.InvalidValue({ expected: accepted }))
            : Effect.succeed(millis)
        },
        encode: (millis: number) => Effect.succeed(millis)
      })
    )
  )
