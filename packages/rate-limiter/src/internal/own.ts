/**
 * Options read by their own keys only (RELIABILITY 10), with the shared
 * `@httpkit/core/Own` under the names the limiter uses, and the limiter's
 * reading of durations (`@httpkit/core/DurationInput`: `"20s"`, `"250ms"`,
 * Effect's forms, milliseconds).
 */
import type * as ConfigProblem from "@httpkit/core/ConfigProblem"
import * as DurationInput from "@httpkit/core/DurationInput"
import { exactly, own, ownDuration } from "@httpkit/core/Own"
import * as Duration from "effect/Duration"

/** `from[key]` when `from` holds `key` itself; `undefined` when absent or only inherited. */
export const get = own

/** A copy of `fields` on an object without a prototype: what a Schema constructor gets. */
export const bare = exactly

/** A `Duration.Input` that Effect reads by its own fields (`Own.ownDuration`). */
export const duration = ownDuration

/**
 * `input` in milliseconds (any `DurationInput.Input`, read by own fields); `fallback` when it is `undefined`.
 * A value `DurationInput` refuses is read as Effect reads it (which may throw): use `checkedMillis` where a
 * problem can be reported.
 */
export const millis = (input: DurationInput.Input | undefined, fallback: number): number =>
  input === undefined
    ? fallback
    : DurationInput.fromInput(input) ?? Duration.toMillis(duration(input as Duration.Input))

/**
 * A duration option in milliseconds: `fallback` when `input` is `undefined`; a value that is no duration
 * (`DurationInput.fromInput`) adds its problem, named `setting`, to `problems` and gives `fallback`.
 */
export const checkedMillis = (
  input: unknown,
  fallback: number,
  setting: string,
  problems: Array<ConfigProblem.ConfigProblem>
): number => {
  if (input === undefined) return fallback
  const read = DurationInput.fromInput(input)
  if (read !== undefined) return read
  problems.push(DurationInput.problem(setting, input))
  return fallback
}

/** A Schema class whose constructor reads its fields by own keys (`Own.fields`): for the limiter's errors. */
export { fields } from "@httpkit/core/Own"
