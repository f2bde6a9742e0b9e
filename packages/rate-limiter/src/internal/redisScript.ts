/**
 * The Redis side of `RedisStore`: the Lua scripts that run the limiter's
 * arithmetic (`algorithm.ts`, ported line for line) inside Redis, the key
 * names they work on, and the decoding of their replies.
 *
 * Each operation is one script (`release` is a plain `ZREM`), so each is
 * atomic and one round trip. Time is
 * Redis's own `TIME` (microseconds, turned into fractional milliseconds), so
 * machines with skewed clocks agree. Every key a script writes gets a
 * `PEXPIRE` for exactly as long as its state matters (`lifetime` in
 * `algorithm.ts`), so idle keys vanish on their own.
 *
 * Storage:
 *
 * - rate item `<prefix>r:<id>`: a string, the theoretical arrival time `tat`;
 * - window item `<prefix>w:<id>`: a list `time, cost, time, cost, ...` in
 *   time order (a booking usually goes last, and the list is written again
 *   when one fits before the last);
 * - block `<prefix>b:<key>`: a string, the time before which nothing goes;
 * - leases `<prefix>l:<id>`: a sorted set of tokens scored by expiry time.
 *
 * Numbers cross the boundary as strings written with `%.17g`, so a time
 * survives the round trip exactly (a Lua number returned as such would be
 * truncated to an integer by Redis).
 */
import * as Redis from "effect/persistence/Redis"
import { createHash } from "node:crypto"
import type * as Algorithm from "./algorithm.ts"

/**
 * Lua shared by every script: the current time and exact number formatting.
 * ARGV[1] is the clock: empty in production (Redis `TIME`), or a time in
 * milliseconds, so tests can run the scripts at chosen instants and compare
 * them with `algorithm.ts` exactly.
 */
const prelude = `
local now
if ARGV[1] == '' then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
else
  now = tonumber(ARGV[1])
end
local function fmt(x) return string.format('%.17g', x) end
`

/**
 * `reserve`. KEYS: one per item, then the block key when ARGV[3] is "1".
 * ARGV: clock, maxWaitMillis, hasBlock, then per item: kind ("r" or "w"), limit,
 * windowMillis, burst, cost. Replies `{1, delay, at}` when granted (every item
 * booked at one instant, `at` in Redis's time, for `cancel`), `{0, retryAfter,
 * item}` when refused (nothing written); `item` is 0-based, or -1 for a block.
 */
const reserveLua = prelude + `
local maxWait = tonumber(ARGV[2])
local n = #KEYS
if ARGV[3] == '1' then
  n = n - 1
  local blockedUntil = tonumber(redis.call('GET', KEYS[#KEYS]) or '0')
  if blockedUntil > now then return {0, fmt(math.ceil(blockedUntil - now)), -1} end
end

-- One state per key, shared by items naming the same key, as in memory.
local states = {}
local order = {}
local function load(key, kind)
  local s = states[key]
  if s then return s end
  if kind == 'r' then
    s = { kind = 'r', tat = tonumber(redis.call('GET', key) or '0') }
  else
    local raw = redis.call('LRANGE', key, 0, -1)
    local entries = {}
    for j = 1, #raw do entries[j] = tonumber(raw[j]) end
    s = { kind = 'w', entries = entries, dropped = 0, appended = {}, rewrite = false }
  end
  states[key] = s
  order[#order + 1] = key
  return s
end

-- prune: drops window entries that no longer count at now.
local function prune(s, window)
  local entries = s.entries
  local len = #entries
  local drop = 0
  while drop < len and entries[drop + 1] <= now - window do drop = drop + 2 end
  if drop == 0 then return end
  local kept = {}
  for j = drop + 1, len do kept[j - drop] = entries[j] end
  s.entries = kept
  s.dropped = s.dropped + drop
end

-- fitsBefore: whether a booking of cost at at, before the last booking, keeps every
-- span of the window within the limit (the spans ending at at and at each booking
-- in (at, at + window)).
local function fitsBefore(entries, limit, window, cost, at)
  local len = #entries
  local low, used, high = 1, 0, 1
  while high <= len and entries[high] <= at do
    used = used + entries[high + 1]
    high = high + 2
  end
  while low < high and entries[low] <= at - window do
    used = used - entries[low + 1]
    low = low + 2
  end
  if used + cost > limit then return false end
  while high <= len and entries[high] < at + window do
    local stop = entries[high]
    while high <= len and entries[high] == stop do
      used = used + entries[high + 1]
      high = high + 2
    end
    while low < high and entries[low] <= stop - window do
      used = used - entries[low + 1]
      low = low + 2
    end
    if used + cost > limit then return false end
  end
  return true
end

-- earliest, for a window item (cost already clamped to the limit).
local function earliestWindow(entries, limit, window, cost, from)
  local len = #entries
  if len == 0 then return from end
  local last = entries[len - 1]
  if from < last and fitsBefore(entries, limit, window, cost, from) then return from end
  -- Otherwise after the last booking, where the count only falls as time goes on.
  local start = math.max(from, last)
  local first = 1
  while first <= len and entries[first] <= start - window do first = first + 2 end
  local used = 0
  for j = first + 1, len, 2 do used = used + entries[j] end
  local at = start
  if used + cost > limit then
    for j = first, len, 2 do
      used = used - entries[j + 1]
      if used + cost <= limit then
        at = math.max(start, entries[j] + window)
        break
      end
    end
  end
  -- A request that must wait is paced behind the last booking (its cost at the window's average rate).
  if at > from then at = math.max(at, last + entries[len] * (window / limit)) end
  return at
end

local items = {}
for i = 1, n do
  local a = 3 + (i - 1) * 5
  local item = {
    kind = ARGV[a + 1],
    limit = tonumber(ARGV[a + 2]),
    window = tonumber(ARGV[a + 3]),
    burst = tonumber(ARGV[a + 4]),
    cost = tonumber(ARGV[a + 5])
  }
  item.state = load(KEYS[i], item.kind)
  if item.kind == 'w' then
    if item.cost > item.limit then item.cost = item.limit end
    prune(item.state, item.window)
  end
  items[i] = item
end

-- The latest of the earliest instants; again until every item accepts it (an item
-- that fitted early may not fit later, but past its last booking it always does).
local at = now
local refusing = 0
local changed = true
while changed do
  changed = false
  for i = 1, n do
    local item = items[i]
    local itemAt
    if item.kind == 'r' then
      local interval = item.window / item.limit
      -- A cost above the burst passes once the bucket is full, and leaves a debt.
      itemAt = math.max(at, item.state.tat + (item.cost - math.max(item.burst, item.cost)) * interval)
    else
      itemAt = earliestWindow(item.state.entries, item.limit, item.window, item.cost, at)
    end
    if itemAt > at then
      at = itemAt
      refusing = i - 1
      changed = true
    end
  end
end

local delay = at - now
if delay > maxWait then return {0, fmt(math.ceil(delay)), refusing} end

-- commit every item at the same instant; window bookings stay in time order.
for i = 1, n do
  local item = items[i]
  local s = item.state
  if item.kind == 'r' then
    s.tat = math.max(s.tat, at) + item.cost * (item.window / item.limit)
  else
    local entries = s.entries
    local index = #entries + 1
    while index > 1 and entries[index - 2] > at do index = index - 2 end
    if index == #entries + 1 then
      s.appended[#s.appended + 1] = fmt(at)
      s.appended[#s.appended + 1] = fmt(item.cost)
    else
      s.rewrite = true
    end
    table.insert(entries, index, item.cost)
    table.insert(entries, index, at)
    s.window = item.window
  end
end

-- write each key once, expiring when its state stops mattering (lifetime).
for _, key in ipairs(order) do
  local s = states[key]
  if s.kind == 'r' then
    local life = math.ceil(s.tat - now)
    if life > 0 then redis.call('SET', key, fmt(s.tat), 'PX', life) else redis.call('DEL', key) end
  elseif s.window then
    if s.rewrite then
      -- A booking went before the last one: write the whole list again.
      redis.call('DEL', key)
      local chunk = {}
      for j = 1, #s.entries do
        chunk[#chunk + 1] = fmt(s.entries[j])
        if #chunk == 1000 then
          redis.call('RPUSH', key, unpack(chunk))
          chunk = {}
        end
      end
      if #chunk > 0 then redis.call('RPUSH', key, unpack(chunk)) end
    else
      if s.dropped > 0 then redis.call('LTRIM', key, s.dropped, -1) end
      redis.call('RPUSH', key, unpack(s.appended))
    end
    local life = math.ceil(s.entries[#s.entries - 1] + s.window - now)
    if life > 0 then redis.call('PEXPIRE', key, life) else redis.call('DEL', key) end
  end
end
return {1, fmt(delay), fmt(at)}
`

/**
 * `cancel` (`Algorithm.cancel`, line for line). KEYS: one per item. ARGV: clock,
 * at (as `reserve` replied it), then per item: kind, limit, windowMillis, cost.
 * A booking already due is left; a rate's is taken back only when it is the
 * latest (the stored `tat` is exactly where it put it); a window's entry
 * `(at, cost)` is removed. Replies 1.
 */
const cancelLua = prelude + `
local at = tonumber(ARGV[2])
if at <= now then return 1 end
for i = 1, #KEYS do
  local a = 2 + (i - 1) * 4
  local kind = ARGV[a + 1]
  local limit = tonumber(ARGV[a + 2])
  local window = tonumber(ARGV[a + 3])
  local cost = tonumber(ARGV[a + 4])
  local key = KEYS[i]
  if kind == 'r' then
    local tat = tonumber(redis.call('GET', key) or '0')
    if tat == at + cost * (window / limit) then
      redis.call('SET', key, fmt(at), 'PX', math.ceil(at - now))
    end
  else
    if cost > limit then cost = limit end
    local raw = redis.call('LRANGE', key, 0, -1)
    local j = #raw - 1
    while j >= 1 and tonumber(raw[j]) >= at do
      if tonumber(raw[j]) == at and tonumber(raw[j + 1]) == cost then
        -- Mark the pair and remove exactly its two elements (Redis lists are 0-based).
        redis.call('LSET', key, j - 1, '#')
        redis.call('LSET', key, j, '#')
        redis.call('LREM', key, 2, '#')
        break
      end
      j = j - 2
    end
  end
end
return 1
`

/**
 * `block`. KEYS: the block key. ARGV: clock, millis. A longer block already set
 * stays. Replies 1.
 */
const blockLua = prelude + `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local blockedUntil = math.max(current, now + tonumber(ARGV[2]))
local life = math.ceil(blockedUntil - now)
if life > 0 then redis.call('SET', KEYS[1], fmt(blockedUntil), 'PX', life) end
return 1
`

/**
 * `lease`. KEYS: the lease set. ARGV: clock, max, token, leaseMillis. Replies `{1}`
 * when granted, `{0, retryAfter}` when full (`"inf"` when nothing held
 * could ever expire, that is `max` is 0).
 */
const leaseLua = prelude + `
local key = KEYS[1]
redis.call('ZREMRANGEBYSCORE', key, '-inf', fmt(now))
if redis.call('ZCARD', key) < tonumber(ARGV[2]) then
  local expiry = now + tonumber(ARGV[4])
  if expiry > now then redis.call('ZADD', key, fmt(expiry), ARGV[3]) end
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if #last > 0 then redis.call('PEXPIRE', key, math.ceil(tonumber(last[2]) - now)) end
  return {1}
end
local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
if #first == 0 then return {0, 'inf'} end
return {0, fmt(math.ceil(tonumber(first[2]) - now))}
`

/** What a script answers (an array of integers and strings). */
export type Reply = ReadonlyArray<unknown>

const keysThenArgs = (keys: ReadonlyArray<string>, args: ReadonlyArray<string | number>): ReadonlyArray<unknown> => [
  ...keys,
  ...args
]

/** The `reserve` script. */
export const reserve = Redis.script(keysThenArgs, {
  lua: reserveLua,
  numberOfKeys: (keys) => keys.length
}).withReturnType<Reply>()

/** The `block` script. */
export const block = Redis.script(keysThenArgs, {
  lua: blockLua,
  numberOfKeys: (keys) => keys.length
}).withReturnType<Reply>()

/** The `cancel` script. */
export const cancel = Redis.script(keysThenArgs, {
  lua: cancelLua,
  numberOfKeys: (keys) => keys.length
}).withReturnType<Reply>()

/** The `lease` script. */
export const lease = Redis.script(keysThenArgs, {
  lua: leaseLua,
  numberOfKeys: (keys) => keys.length
}).withReturnType<Reply>()

/** Ids kept as they are in key names: short, printable, and never containing `#`. */
const plainId = /^[\w.:/@=+-]{0,128}$/

/**
 * A key-safe form of a caller's id: the id itself when it is plain (at most
 * 128 characters from `[A-Za-z0-9_.:/@=+-]`); otherwise a readable stem
 * (unsafe characters replaced, at most 48) then `#` and the SHA-256 of the
 * id's UTF-16 code units (so lone surrogates and control characters stay
 * distinct), 92 characters at most. `#` never occurs in a plain id, so the two
 * forms cannot collide.
 */
export const safeId = (id: string): string => {
  if (plainId.test(id)) return id
  const stem = id.slice(0, 48).replace(/[^\w.:/@=+-]/g, "_")
  return `${stem}#${createHash("sha256").update(Buffer.from(id, "utf16le")).digest("base64url")}`
}

/** Key names under a prefix. */
export interface Keys {
  readonly item: (item: Algorithm.Item) => string
  readonly block: (key: string) => string
  readonly lease: (id: string) => string
}

/** Most ids whose key-safe form is remembered (policy names with spaces would be hashed on every call). */
const maxRemembered = 10_000

/** The key names under `prefix`, each id's safe form computed once while it is in use. */
export const keys = (prefix: string): Keys => {
  const remembered = new Map<string, string>()
  const safe = (id: string): string => {
    let form = remembered.get(id)
    if (form === undefined) {
      if (remembered.size >= maxRemembered) remembered.clear()
      form = safeId(id)
      remembered.set(id, form)
    }
    return form
  }
  return {
    item: (item) => `${prefix}${item.kind === "rate" ? "r" : "w"}:${safe(item.id)}`,
    block: (key) => `${prefix}b:${safe(key)}`,
    lease: (id) => `${prefix}l:${safe(id)}`
  }
}

/** A number as the scripts read it: finite, or a bound far beyond any wait (Lua cannot read `Infinity`). */
export const arg = (x: number): number => Number.isFinite(x) ? x : x > 0 ? 1e15 : -1e15

/** The clock argument that makes a script read Redis `TIME`. */
export const redisTime = ""

/** The keys and arguments of a `reserve` call (`clock`: `redisTime`, or an instant in tests). */
export const reserveArgs = (
  names: Keys,
  items: ReadonlyArray<Algorithm.Item>,
  blockKey: string | undefined,
  maxWaitMillis: number,
  clock: string | number = redisTime
): [ReadonlyArray<string>, ReadonlyArray<string | number>] => {
  const itemKeys: Array<string> = []
  const args: Array<string | number> = [clock, arg(maxWaitMillis), blockKey === undefined ? "0" : "1"]
  for (const item of items) {
    itemKeys.push(names.item(item))
    args.push(item.kind === "rate" ? "r" : "w", item.limit, item.windowMillis, item.burst, item.cost)
  }
  if (blockKey !== undefined) itemKeys.push(names.block(blockKey))
  return [itemKeys, args]
}

/** The keys and arguments of a `cancel` call (`clock`: `redisTime`, or an instant in tests). */
export const cancelArgs = (
  names: Keys,
  items: ReadonlyArray<Algorithm.Item>,
  at: number,
  clock: string | number = redisTime
): [ReadonlyArray<string>, ReadonlyArray<string | number>] => {
  const itemKeys: Array<string> = []
  const args: Array<string | number> = [clock, at]
  for (const item of items) {
    itemKeys.push(names.item(item))
    args.push(item.kind === "rate" ? "r" : "w", item.limit, item.windowMillis, item.cost)
  }
  return [itemKeys, args]
}

/** Reads a number the scripts wrote with `fmt` (or as an integer). */
const number = (value: unknown): number => {
  if (typeof value === "number") return value
  if (value === "inf") return Number.POSITIVE_INFINITY
  return typeof value === "string" ? Number(value) : Number.NaN
}

/** Decodes a `reserve` reply, or `undefined` when it is not one. */
export const decodeReservation = (reply: Reply): Algorithm.Reservation | undefined => {
  if (!Array.isArray(reply)) return undefined
  const tag = number(reply[0])
  const value = number(reply[1])
  if (Number.isNaN(value)) return undefined
  if (tag === 1) {
    // A booking ahead carries its instant, so that a waiter that goes away can give it back.
    const at = number(reply[2])
    return value > 0 && Number.isFinite(at)
      ? { _tag: "Granted", delayMillis: value, at }
      : { _tag: "Granted", delayMillis: value }
  }
  const item = number(reply[2])
  return tag === 0 && Number.isInteger(item) ? { _tag: "Refused", retryAfterMillis: value, item } : undefined
}

/**
 * Redis's now when it answered a granted `reserve` (`at - delay`, exact to
 * the microsecond), or `undefined` for any other reply.
 */
export const redisNowOf = (reply: Reply): number | undefined => {
  if (!Array.isArray(reply) || number(reply[0]) !== 1) return undefined
  const now = number(reply[2]) - number(reply[1])
  return Number.isFinite(now) ? now : undefined
}

/** Decodes a `lease` reply, or `undefined` when it is not one. */
export const decodeLease = (
  reply: Reply
): { readonly _tag: "Granted" } | { readonly _tag: "Full"; readonly retryAfterMillis: number } | undefined => {
  if (!Array.isArray(reply)) return undefined
  const tag = number(reply[0])
  if (tag === 1) return { _tag: "Granted" }
  const retryAfterMillis = number(reply[1])
  return tag === 0 && !Number.isNaN(retryAfterMillis) ? { _tag: "Full", retryAfterMillis } : undefined
}
