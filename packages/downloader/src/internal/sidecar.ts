/**
 * The sidecar beside a `.part` file (`DEST.part.json`): what the next run
 * needs to resume, Schema-encoded JSON. It holds the URL with its secrets
 * redacted, the validators, the length, the content coding of the bytes in
 * the `.part`, and per segment the bytes known to be on disk (written and
 * synced before the sidecar said so). No hash state: a resumed download
 * re-hashes the bytes already on disk.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { FileSystemError } from "../DownloadError.ts"
import * as FileIo from "./fileIo.ts"
import { ownData } from "./own.ts"

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
  /**
   * The content coding the `.part`'s bytes were written with (`Remote.codingOf`); every segment shares it, and
   * only bytes of this coding are appended. Absent in sidecars of earlier versions, which asked for `identity`:
   * read as `identity` (`codingOf`).
   */
  contentCoding: Schema.optionalKey(Schema.String),
  segments: Schema.Array(Segment)
})
export type State = typeof State.Type

/** Sidecars are small; anything bigger is not one of ours. */
const maxBytes = 1024 * 1024

const decode = Schema.decodeUnknownOption(State)
const encode = Schema.encodeSync(Schema.fromJsonString(State))

/**
 * The sidecar in `text`, read by own keys only (RELIABILITY 10): Schema reads
 * an absent optional field (`size`, a segment's `end`) with `in`, so it is
 * given, and gives back, objects without a prototype.
 */
const parse = (text: string): State | undefined => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return undefined
  }
  const state = decode(ownData(json))
  return state._tag === "None" ? undefined : ownData(state.value)
}

/** The sidecar's path for a `.part` path. */
export const pathFor = (partPath: string): string => `${partPath}.json`

/** Reads a sidecar; `undefined` when it is missing, unreadable as ours, or inconsistent. */
export const read = (url: string, path: string): Effect.Effect<State | undefined, FileSystemError> =>
  Effect.map(FileIo.readSmall(url, path, maxBytes), (text) => {
    if (text === undefined) return undefined
    const state = parse(text)
    return state !== undefined && consistent(state) ? state : undefined
  })

/**
 * Segments that tile the file: the first starts at 0, each starts where the
 * one before ends, each `done` is inside its segment, and the last ends at
 * `size`; a file of unknown length has one open segment. A sidecar that
 * leaves a gap or stops short would otherwise complete a file with holes.
 */
const consistent = (state: State): boolean => {
  const { segments, size } = state
  if (segments.length === 0) return false
  if (size === undefined) {
    const [only] = segments
    return segments.length === 1 && only!.start === 0 && only!.end === undefined
  }
  let previousEnd = 0
  for (const segment of segments) {
    if (segment.start !== previousEnd || segment.end === undefined || segment.end < segment.start) return false
    if (segment.done > segment.end - segment.start) return false
    previousEnd = segment.end
  }
  return previousEnd === size
}

/** Writes a sidecar atomically. */
export const write = (url: string, path: string, state: State): Effect.Effect<void, FileSystemError> =>
  FileIo.writeAtomically(url, path, encode(ownData(state)))
