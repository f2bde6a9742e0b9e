/**
 * The byte `range` of `ResilientClient.stream`: checked before anything is
 * sent, and the answer checked before a byte is streamed, so that a server
 * that ignores `Range` (a 200 with the whole body) or answers another range
 * never hands the caller the wrong bytes.
 */
import type { Received } from "./attempt.ts"
import { own } from "./own.ts"

/** A byte range, as `stream` takes it. */
export interface ByteRange {
  readonly start: number
  readonly end?: number
}

/** Why a range cannot be asked for, or `undefined`: non-negative safe integers, `end` at least `start`. */
export const problem = (range: ByteRange): string | undefined => {
  const start: unknown = own(range, "start")
  const end: unknown = own(range, "end")
  if (!Number.isSafeInteger(start) || (start as number) < 0) {
    return `range.start must be a whole number of bytes of at least 0, not ${String(start)}`
  }
  if (end !== undefined && (!Number.isSafeInteger(end) || (end as number) < (start as number))) {
    return `range.end must be a whole number of bytes of at least range.start (${start}), not ${String(end)}`
  }
  return undefined
}

/** The `Range` header value of a checked range. */
export const header = (range: ByteRange): string => `bytes=${own(range, "start")}-${own(range, "end") ?? ""}`

const contentRange = /^bytes\s+(\d+)-(\d+)\/(?:\d+|\*)$/i

/** Why an answer is not the range asked for (`start` on), or `undefined` when it is: a 206 from `start`. */
export const mismatch = (received: Received, start: number): string | undefined => {
  const status = received.response.status
  if (status !== 206) {
    return `asked for bytes from ${start}, the server answered ${status} (Range ignored: the body would start at 0)`
  }
  const value = received.headers["content-range"]
  const match = value === undefined ? null : contentRange.exec(value.trim())
  if (match === null) return `asked for bytes from ${start}, the 206 has no valid Content-Range`
  if (Number(match[1]) !== start) {
    return `asked for bytes from ${start}, the 206 starts at byte ${match[1]}`
  }
  return undefined
}
