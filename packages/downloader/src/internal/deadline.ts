/**
 * `timeout`: one deadline for a whole download, on Effect's clock (so
 * `TestClock` moves it). It covers every stage from the precheck to the move
 * into place, the client's retries and `Retry-After` sleeps, the
 * continuations of broken bodies, restarts and every segment. When it
 * passes, the download is interrupted as a cancellation is (sockets closed,
 * a last checkpoint of the `.part`, the lock released: RELIABILITY 18) and
 * fails with `DownloadTimeoutError`, naming the stage it was in.
 */
import * as Effect from "effect/Effect"
import { DownloadTimeoutError } from "../DownloadError.ts"

/**
 * The stages of a download, as `DownloadTimeoutError.phase` names them: the `HEAD` (and its ranged probe); the
 * destination, its lock and the `.part`; the requests and bodies to the move into place.
 */
export type Phase = "precheck" | "prepare" | "transfer"

/** Where a download is: set by each stage as it starts, read when the deadline passes. */
export interface Stage {
  phase: Phase
}

/** A download's stage tracker, starting at the precheck. */
export const stage = (): Stage => ({ phase: "precheck" })

/** Sets the stage, as an effect, between two stages of a download. */
export const enter = (stage: Stage, phase: Phase): Effect.Effect<void> =>
  Effect.sync(() => {
    stage.phase = phase
  })

/** Runs `effect` within `timeoutMillis` (no deadline when `undefined`). */
export const within = <A, E>(
  redactedUrl: string,
  timeoutMillis: number | undefined,
  stage: Stage,
  effect: Effect.Effect<A, E>
): Effect.Effect<A, E | DownloadTimeoutError> =>
  timeoutMillis === undefined ? effect : Effect.timeoutOrElse(effect, {
    duration: timeoutMillis,
    orElse: () =>
      Effect.fail(new DownloadTimeoutError({ url: redactedUrl, retryable: true, timeoutMillis, phase: stage.phase }))
  })
