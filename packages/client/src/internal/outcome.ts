/**
 * What a call's exit holds: the client's typed error (found among the
 * cause's reasons), a defect or an interruption, as the retry loop, the
 * breaker, the metrics and the attempt log read it.
 */
import * as Effect from "effect/Effect"
import type { AuthenticationError, ClientError } from "../ClientError.ts"

/** A 401 that the retry loop may answer with an auth refresh (never leaves the pipeline). */
export class Unauthorized {
  readonly error: AuthenticationError
  readonly generation: number
  constructor(options: { readonly error: AuthenticationError; readonly generation: number }) {
    this.error = options.error
    this.generation = options.generation
  }
  [Symbol.iterator]() {
    return Effect.fail(this)[Symbol.iterator]()
  }
}

/** The tags of `ClientError`, the family every failure of a call belongs to. */
export const clientErrorTags: ReadonlySet<string> = new Set([
  "ConnectionError",
  "TimeoutError",
  "AuthenticationError",
  "NotFoundError",
  "InvalidRequestError",
  "ServerTimeoutError",
  "RateLimitedError",
  "ServiceUnavailableError",
  "ServerError",
  "ClientStatusError",
  "BulkheadFullError",
  "CircuitOpenError",
  "DecodeError",
  "ResponseTooLargeError",
  "RedirectError",
  "BodyNotReplayableError",
  "RateLimitExceededError",
  "RateLimiterUnavailableError"
])

/** Whether a value is one of the client's errors. */
export const isClientError = (error: unknown): error is ClientError =>
  typeof error === "object" && error !== null && clientErrorTags.has((error as { _tag?: string })._tag ?? "")

type Reasons = { reasons?: ReadonlyArray<{ _tag: string; error?: unknown }> } | undefined

/** The failure value of a cause, whatever its type. */
export const findFailure = (cause: unknown): unknown => {
  const reasons = (cause as Reasons)?.reasons ?? []
  for (const reason of reasons) if (reason._tag === "Fail") return reason.error
  return undefined
}

/** The client error of a cause, if it has one. */
export const findError = (cause: unknown): ClientError | undefined => {
  const reasons = (cause as Reasons)?.reasons ?? []
  for (const reason of reasons) {
    if (reason._tag === "Fail" && isClientError(reason.error)) return reason.error
  }
  return undefined
}

/** A failed call's outcome as the metrics name it: the client error's tag, `other`, `defect` or `interrupted`. */
export const failureLabel = (cause: unknown, error: unknown): string => {
  if (error !== undefined) {
    const tag = (error as { _tag?: unknown })._tag
    return typeof tag === "string" && clientErrorTags.has(tag) ? tag : "other"
  }
  const reasons = (cause as Reasons)?.reasons ?? []
  return reasons.some((reason) => reason._tag === "Die") ? "defect" : "interrupted"
}
