/**
 * The `Retry-After` dialect of `ServerFeedback`: `Retry-After` (RFC 9110,
 * seconds or an HTTP-date) and OpenAI's `retry-after-ms`, which wins when it
 * is valid. Read by the client's one reader of wait hints
 * (`RetryAfter.fromValues`), so a retry and the limiter's feedback read a
 * response the same way.
 */
import * as RetryAfter from "../RetryAfter.ts"
import type { HeaderValues } from "./feedbackHeaders.ts"

/** Milliseconds to wait, or `undefined`; HTTP-dates need `now`. */
export const readRetryAfter = (headers: HeaderValues, now: number | undefined): number | undefined =>
  RetryAfter.fromValues(headers.get("retry-after-ms"), headers.get("retry-after"), now)
