/**
 * The sidecar beside a `.part` file (`DEST.part.json`): what the next run
 * needs to resume, Schema-encoded JSON. It holds the URL with its secrets
 * redacted, the validators, the length, and per segment the bytes known to
 * be on disk (written and synced before the sidecar said so). No hash state:
 * a resumed download re-hashes the bytes already on disk.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { FileSystemError } from "../DownloadError.ts"
import * as FileIo from "./fileIo.ts"

const NonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))

/** One segment: bytes `[start, end)` of the file, of which `[start, start + done)` are on disk. */
export const Segment = Schema.Struct({
  start: NonNegativeInt,
  /** Exclusive; absent when the length is unknown (a single stream only). */
  end: Schema.optionalKey(NonNegativeInt),
  done: NonNegativeInt
})
export type Segment = typeof Segment.Type

/** The sidecar's content. */
export const State = Schema.Struct({
  version: Schema.Literal(1),
  /** The URL, redacted: it identifies the download without carrying its credentials. */
  url: Schema.String,
  size: Schema.optionalKey(NonNegativeInt),
  etag: Schema.optionalKey(Schema.String),
  lastModified: Schema.optionalKey(Schema.String),
  segments: Schema.Array(Segment)
})
export type State = typeof State.Type

/** Sidecars are small; anything bigger is not one of ours. */
const maxBytes = 1024 * 1024

const decode = Schema.decodeUnknownOption(Schema.fromJsonString(State))
const encode = Schema.encodeSync(Schema.fromJsonString(State))

/** The sidecar's path for a `.part` path. */
export const pathFor = (partPath: string): string => `${partPath}.json`

/** Reads a sidecar; `undefined` when it is missing, unreadable as ours, or inconsistent. */
export const read = (url: string, path: string): Effect.Effect<State | undefined, FileSystemError> =>
  Effect.map(FileIo.readSmall(url, path, maxBytes), (text) => {
    if (text === undefined) return undefined
    const state = decode(text)
    if (state._tag === "None") return undefined
    return consistent(state.value) ? state.value : undefined
  })

/** Segments in order, not overlapping, each `done` inside its segment, and inside `size`. */
const consistent = (state: State): boolean => {
  let previousEnd = 0
  for (const [index, segment] of state.segments.entries()) {
    if (segment.start < previousEnd) return false
    if (segment.end === undefined) {
      if (index !== state.segments.length - 1 || state.size !== undefined) return false
    } else {
      if (segment.end < segment.start || segment.done > segment.end - segment.start) return false
      if (state.size !== undefined && segment.end > state.size) return false
      previousEnd = segment.end
    }
  }
  return true
}

/** Writes a sidecar atomically. */
export const write = (url: string, path: string, state: State): Effect.Effect<void, FileSystemError> =>
  FileIo.writeAtomically(url, path, encode(state))
