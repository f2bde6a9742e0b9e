/**
 * Options read by their own keys only (RELIABILITY 10), with the shared
 * `@httpkit/core/Own` under the names the limiter uses, and the limiter's
 * reading of durations.
 */
import { exactly, own, ownDuration } from "@httpkit/core/Own"
import * as Duration from "effect/Duration"

/** `from[key]` when `from` holds `key` itself; `undefined` when absent or only inherited. */
export const get = own

/** A copy of `fields` on an object without a prototype: what a Schema constructor gets. */
export const bare = exactly

/** A `Duration.Input` that Effect reads by its own fields (`Own.ownDuration`). */
export const duration = ownDuration

/** `input` in milliseconds, read by own fields (see `duration`); `fallback` when it is `undefined`. */
export const millis = (input: Duration.Input | undefined, fallback: number): number =>
  input === undefined ? fallback : Duration.toMillis(duration(input))
