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

/** A 206's range: its first and last byte. */
interface Answered {
  readonly first: number
  readonly last: number
}

/** The range a 206 says it holds, or why it holds none that can be used. */
const answered = (received: Received): Answered | string => {
  const value = received.headers["content-range"]
  const match = value === undefined ? null : contentRange.exec(value.trim())
  if (match === null) return "the 206 has no valid Content-Range"
  const first = Number(match[1])
  const last = Number(match[2])
  if (!Number.isSafeInteger(last) || last < first) return `the 206's Content-Range ${value} is not a range`
  return { first, last }
}

/**
 * Why an answer is not the range asked for, or `undefined` when it is: a 206
 * from `range.start`, ending at or before `range.end`, whose
 * `Content-Length` (when it has one) is the length its `Content-Range` says.
 */
export const mismatch = (received: Received, range: ByteRange): string | undefined => {
  const start = own(range, "start") as number
  const end = own(range, "end")
  const status = received.response.status
  if (status !== 206) {
    return `asked for bytes from ${start}, the server answered ${status} (Range ignored: the body would start at 0)`
  }
  const holds = answered(received)
  if (typeof holds === "string") return `asked for bytes from ${start}, ${holds}`
  if (holds.first !== start) return `asked for bytes from ${start}, the 206 starts at byte ${holds.first}`
  if (end !== undefined && holds.last > end) {
    return `asked for bytes ${start}-${end}, the 206 holds bytes ${start}-${holds.last}`
  }
  const length = received.headers["content-length"]
  if (length !== undefined && Number(length) !== holds.last - start + 1) {
    return `the 206 holds bytes ${start}-${holds.last} (${
      holds.last - start + 1
    } bytes) but its Content-Length is ${length}`
  }
  return undefined
}

/** The number of bytes a 206 that passed `mismatch` holds. */
export const lengthOf = (received: Received): number => {
  const holds = answered(received) as Answered
  return holds.last - holds.first + 1
}
