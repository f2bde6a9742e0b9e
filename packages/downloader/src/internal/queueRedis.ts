/**
 * The Redis side of the download queue: key names and the few scripts the
 * queue runs beside Effect's `PersistedQueue` Redis store.
 *
 * Keys under `<prefix><name>`:
 *
 * - Effect's `PersistedQueue` store (effect 4.1.0; its layout is internal to
 *   Effect, read here for counts and de-duplication, and pinned by a test):
 *   `<prefix><name>` the list of waiting payloads, `:pending` the hash of
 *   claimed payloads by id, `:delayed` the sorted set of payloads waiting for
 *   a retry, `:failed` the list of Effect's own failure records, `:ids` the
 *   sorted set of known ids (de-duplication; the score `1e15` while queued,
 *   delayed or claimed, a time once finished), `:attempts` the hash of
 *   attempts made by id. A payload is `{"id":...,"element":...}`, the id
 *   first.
 * - Ours: `:dead` the list of dead letters (JSON, newest last, trimmed to a
 *   bound; written and read by own keys only: `deadLetterJson`,
 *   `parseDeadLetter`), and `:claim:<hash of the id>` the lock a worker
 *   holds while it downloads a task (value: its token; expires unless
 *   renewed).
 */
import * as Effect from "effect/Effect"
import * as Redis from "effect/persistence/Redis"
import * as Schema from "effect/Schema"
import { createHash } from "node:crypto"
import { DeadLetter } from "../QueueTask.ts"
import { ownData } from "./own.ts"

/** The keys of one queue. */
export interface Keys {
  readonly queue: string
  readonly pending: string
  readonly delayed: string
  readonly failed: string
  readonly ids: string
  readonly attempts: string
  readonly dead: string
  /** The lock key of a task id. */
  readonly claim: (id: string) => string
}

/** The keys of queue `name` under `prefix`. */
export const keysFor = (prefix: string, name: string): Keys => {
  const base = `${prefix}${name}`
  return {
    queue: base,
    pending: `${base}:pending`,
    delayed: `${base}:delayed`,
    failed: `${base}:failed`,
    ids: `${base}:ids`,
    attempts: `${base}:attempts`,
    dead: `${base}:dead`,
    claim: (id) => `${base}:claim:${createHash("sha256").update(id).digest("hex").slice(0, 32)}`
  }
}

/** Waiting, delayed, claimed, dead letters, Effect's failure records: counted in one step. */
export const counts = Redis.script(
  (keys: Keys) => [keys.queue, keys.delayed, keys.pending, keys.dead, keys.failed],
  {
    lua: `
return {
  redis.call("LLEN", KEYS[1]),
  redis.call("ZCARD", KEYS[2]),
  redis.call("HLEN", KEYS[3]),
  redis.call("LLEN", KEYS[4]),
  redis.call("LLEN", KEYS[5])
}
`,
    numberOfKeys: 5
  }
).withReturnType<ReadonlyArray<number>>()

/** Appends a dead letter and keeps the newest `max`. */
export const pushDead = Redis.script(
  (key: string, payload: string, max: number) => [key, payload, String(max)],
  {
    lua: `
redis.call("RPUSH", KEYS[1], ARGV[1])
redis.call("LTRIM", KEYS[1], -tonumber(ARGV[2]), -1)
`,
    numberOfKeys: 1
  }
)

/** A dead letter to move back into the queue: where it is, its exact text there, its id, the payload to queue. */
export interface Requeue {
  readonly list: "dead" | "failed"
  readonly text: string
  readonly id: string
  readonly payload: string
}

/**
 * What `requeueDead` did with each letter, in order: queued its task (the
 * letter removed), removed a letter whose task is queued or delayed already,
 * left a letter whose task is claimed (in flight: its worker may be writing
 * this very letter, before Effect's store finishes the task), found the
 * letter gone (moved meanwhile), or stopped there for want of room (this
 * letter and the ones after it are left for a later call).
 */
export const Requeued = { queued: 1, duplicate: 2, busy: 3, gone: 0, full: 4 } as const

/**
 * Moves dead letters back into the queue while the queue has room (fewer
 * than `capacity` tasks waiting or delayed), each in one step with its
 * removal (a script runs whole): the letter is removed (`LREM` of its exact
 * text) only as its task is queued, or when its task is queued already. A
 * queued task's id is reserved as Effect's offer reserves it, and its
 * attempts are cleared, so it starts from zero.
 */
export const requeueDead = Redis.script(
  (keys: Keys, capacity: number, letters: ReadonlyArray<Requeue>) => [
    keys.queue,
    keys.ids,
    keys.pending,
    keys.attempts,
    keys.dead,
    keys.failed,
    keys.delayed,
    String(capacity),
    ...letters.flatMap((letter) => [letter.list, letter.text, letter.id, letter.payload])
  ],
  {
    lua: `
local room = tonumber(ARGV[1]) - redis.call("LLEN", KEYS[1]) - redis.call("ZCARD", KEYS[7])
local result = {}
for i = 2, #ARGV, 4 do
  local key_list = KEYS[5]
  if ARGV[i] == "failed" then key_list = KEYS[6] end
  local text, id, payload = ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local score = redis.call("ZSCORE", KEYS[2], id)
  local status
  -- "inf": an entry of Effect's older layout, queued or failed; left as it is.
  if redis.call("HEXISTS", KEYS[3], id) == 1 or score == "inf" then
    status = ${Requeued.busy}
  elseif score and tonumber(score) == 1e15 then
    status = ${Requeued.duplicate}
    if redis.call("LREM", key_list, 1, text) == 0 then status = ${Requeued.gone} end
  elseif room <= 0 then
    result[#result + 1] = ${Requeued.full}
    return result
  elseif redis.call("LREM", key_list, 1, text) == 0 then
    status = ${Requeued.gone}
  else
    redis.call("HDEL", KEYS[4], id)
    redis.call("ZADD", KEYS[2], "1000000000000000", id)
    redis.call("RPUSH", KEYS[1], payload)
    room = room - 1
    status = ${Requeued.queued}
  end
  result[#result + 1] = status
end
return result
`,
    numberOfKeys: 7
  }
).withReturnType<ReadonlyArray<number>>()

/** Extends a lock held with `token` to `ttl` ms; 1 when it was still ours, 0 when it was lost. */
export const renew = Redis.script(
  (key: string, token: string, ttlMillis: number) => [key, token, String(ttlMillis)],
  {
    lua: `
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0
`,
    numberOfKeys: 1
  }
).withReturnType<number>()

/** Removes a lock if it is still held with `token`. */
export const release = Redis.script(
  (key: string, token: string) => [key, token],
  {
    lua: `
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0
`,
    numberOfKeys: 1
  }
).withReturnType<number>()

/**
 * One of Effect's own failure records (`:failed`): an element that failed to
 * decode, or whose worker died during its last attempt.
 */
export interface FailedRecord {
  readonly id: string
  readonly element: unknown
  readonly attempts: number
  readonly lastFailure: string
  readonly failedAt: number
}

/** Reads one of Effect's failure records; `undefined` when it is not one. */
export const parseFailedRecord = (text: string): FailedRecord | undefined => {
  try {
    const record: unknown = JSON.parse(text)
    if (typeof record !== "object" || record === null) return undefined
    const field = (name: string): unknown =>
      Object.hasOwn(record, name) ? (record as Record<string, unknown>)[name] : undefined
    const id = field("id")
    if (typeof id !== "string") return undefined
    const attempts = field("attempts")
    const lastFailure = field("lastFailure")
    const failedAt = field("failedAt")
    return {
      id,
      element: field("element"),
      attempts: typeof attempts === "number" ? attempts : 0,
      lastFailure: typeof lastFailure === "string" ? lastFailure : "unknown",
      failedAt: typeof failedAt === "number" ? failedAt : 0
    }
  } catch {
    return undefined
  }
}

/**
 * `encoded` (what Schema made of `source`) without the fields `source` does
 * not own: Schema reads an absent optional field (an error's `requestId`,
 * `status`, `problems`) with `in`, and would otherwise write what a polluted
 * `Object.prototype` holds under that name (RELIABILITY 10).
 */
const ownFieldsOf = (source: unknown, encoded: unknown): unknown => {
  if (typeof encoded !== "object" || encoded === null || typeof source !== "object" || source === null) {
    return encoded
  }
  if (Array.isArray(encoded)) {
    return Array.isArray(source) ? encoded.map((item, index) => ownFieldsOf(source[index], item)) : encoded
  }
  const out: Record<string, unknown> = Object.create(null)
  for (const key of Object.keys(encoded)) {
    if (key !== "_tag" && !Object.hasOwn(source, key)) continue
    out[key] = ownFieldsOf((source as Record<string, unknown>)[key], (encoded as Record<string, unknown>)[key])
  }
  return out
}

const encodeDeadLetter = Schema.encodeEffect(DeadLetter)
const decodeDeadLetter = Schema.decodeUnknownEffect(DeadLetter)

/** A dead letter as the JSON kept in `:dead`: its own fields only. */
export const deadLetterJson = (letter: DeadLetter): Effect.Effect<string, Schema.SchemaError> =>
  Effect.map(encodeDeadLetter(letter), (encoded) => JSON.stringify(ownFieldsOf(letter, encoded)))

/**
 * A dead letter read from `:dead`, its JSON parsed onto objects without a
 * prototype before Schema reads it (an absent optional field stays absent).
 */
export const parseDeadLetter = (text: string): Effect.Effect<DeadLetter, unknown> =>
  Effect.flatMap(Effect.try(() => ownData(JSON.parse(text) as unknown)), decodeDeadLetter)
