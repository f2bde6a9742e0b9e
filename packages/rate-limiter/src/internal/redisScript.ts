/**
 * The Redis side of `RedisStore`: the Lua scripts that run the limiter's
 * arithmetic (`algorithm.ts`: rates line for line, windows the same
 * arithmetic on running totals) inside Redis, the key names they work on, and
 * the decoding of their replies.
 *
 * A window's counts are differences of running totals where `algorithm.ts`
 * adds costs one by one: the same numbers for whole costs (requests, whole
 * tokens; `test/RedisStore.test.ts` compares them on random sequences), and
 * for fractional token costs the same up to rounding in the last bits.
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
 * - window item `<prefix>w:<id>`: a sorted set of bookings scored by their
 *   time. A booking whose time has come carries the running total of the
 *   costs booked before it (`tie:time:cost:before`), so the count of any span
 *   of the past is a difference of two totals, each one `O(log n)` lookup; a
 *   booking ahead (a waiter's) is `tie:time:cost` until its time comes, so a
 *   booking made before it, or taking it back, changes no total. `tie` numbers
 *   the bookings of one instant in the order they were made (fixed width, so
 *   they sort so). A call costs `O(log n)` for the `n` bookings held, plus
 *   reading the `k` bookings ahead (`O(k)`, usually few); only a booking that
 *   must check the spans ending at each of them (a window full around the
 *   instant asked for) costs `O(k log n)`. A list of an earlier version
 *   (`time, cost, ...`) becomes a sorted set the first time a script touches
 *   it;
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
 * Lua shared by the scripts that read window items: the booking format, the
 * return of totalled bookings to pending (a clock gone back), and the
 * conversion of a window of an earlier version.
 */
const windowLua = `
-- A booking is a member scored by its time: 'tie:time:cost' while pending, 'tie:time:cost:before' once
-- totalled. tie numbers the bookings of one instant in the order they were made (fixed width, so they sort so);
-- before is what every booking ahead of it in time order cost, a running total, so the count of any span is a
-- difference of two. Totalled bookings come first in time order: a booking is made pending (now or later) and
-- totalled once its time has come, so none is ever made before a totalled one and no total ever changes.
local function member(tie, time, cost, before)
  local m = string.format('%010d', tie) .. ':' .. fmt(time) .. ':' .. fmt(cost)
  if before == nil then return m end
  return m .. ':' .. fmt(before)
end
local function parse(m)
  local tie, _, cost, before = string.match(m, '^(%d+):([^:]+):([^:]+):?([^:]*)$')
  return tonumber(tie), tonumber(cost), tonumber(before)
end

-- Makes the totalled bookings in later (ZRANGEBYSCORE ... WITHSCORES) pending again, in their places: a
-- booking goes before them only when Redis's clock went back.
local function untotal(key, later)
  for j = 1, #later, 2 do
    local tie, cost, before = parse(later[j])
    if before ~= nil then
      redis.call('ZADD', key, later[j + 1], member(tie, tonumber(later[j + 1]), cost, nil))
      redis.call('ZREM', key, later[j])
    end
  end
end

-- A window of an earlier version (a list: time, cost, ...) becomes a sorted set, once, keeping its expiry.
local function migrate(key)
  if redis.call('TYPE', key)['ok'] ~= 'list' then return end
  local raw = redis.call('LRANGE', key, 0, -1)
  local ttl = redis.call('PTTL', key)
  redis.call('DEL', key)
  local total, previous, tie = 0, nil, 0
  for j = 1, #raw - 1, 2 do
    local time, cost = tonumber(raw[j]), tonumber(raw[j + 1])
    if time == previous then tie = tie + 1 else tie = 0 end
    redis.call('ZADD', key, raw[j], member(tie, time, cost, total))
    total = total + cost
    previous = time
  end
  if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
end
`

/**
 * `reserve`. KEYS: one per item, then the block key when ARGV[3] is "1".
 * ARGV: clock, maxWaitMillis, hasBlock, then per item: kind ("r" or "w"), limit,
 * windowMillis, burst, cost. Replies `{1, delay, at}` when granted (every item
 * booked at one instant, `at` in Redis's time, for `cancel`), `{0, retryAfter,
 * item}` when refused (nothing written); `item` is 0-based, or -1 for a block.
 */
const reserveLua = prelude + windowLua + `
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

-- A window's state: its bookings held (count), the totalled ones' total, the pending ones in time order with
-- their running sums (read back from the last booking: those made ahead, usually few), its last booking, and
-- the instant at or before which nothing counts (floor: prune). Pending bookings whose time has come are
-- totalled first, at most 1000 a call (any left are counted as pending).
local function loadWindow(key)
  local s = { kind = 'w', key = key, floor = -math.huge, total = 0 }
  local count = redis.pcall('ZCARD', key)
  if type(count) == 'table' then
    -- Not a sorted set: a list of an earlier version.
    migrate(key)
    count = redis.call('ZCARD', key)
  end
  s.count = count
  local backwards = {}
  local hi = s.count - 1
  local found = false
  -- The last booking first (usually totalled: nothing is ahead), then larger chunks.
  local size = 1
  while hi >= 0 and not found do
    local lo = math.max(0, hi - size + 1)
    size = math.min(64, size * 8)
    local chunk = redis.call('ZRANGE', key, lo, hi, 'WITHSCORES')
    for j = #chunk - 1, 1, -2 do
      local tie, cost, before = parse(chunk[j])
      local time = tonumber(chunk[j + 1])
      if s.lastTime == nil then
        s.lastTime = time
        s.lastCost = cost
        -- The last booking whatever counts (lastTime is forgotten when nothing counts), for ties and expiry.
        s.endTime = time
        s.endTie = tie
      end
      if before ~= nil then
        s.total = before + cost
        s.totalledTime = time
        found = true
        break
      end
      backwards[#backwards + 1] = { member = chunk[j], score = chunk[j + 1], time = time, tie = tie, cost = cost }
    end
    hi = lo - 1
  end
  s.pending = {}
  s.sums = { [0] = 0 }
  local totalled = 0
  for j = #backwards, 1, -1 do
    local p = backwards[j]
    if p.time <= now and totalled < 1000 then
      -- Added before the old member goes: a key left empty would vanish, and come back without its expiry.
      redis.call('ZADD', key, p.score, member(p.tie, p.time, p.cost, s.total))
      redis.call('ZREM', key, p.member)
      s.total = s.total + p.cost
      s.totalledTime = p.time
      totalled = totalled + 1
    else
      s.pending[#s.pending + 1] = p
      s.sums[#s.pending] = s.sums[#s.pending - 1] + p.cost
    end
  end
  -- Ranks below this are totalled bookings; from it, pending ones.
  s.firstPending = s.count - #s.pending
  return s
end

local function load(key, kind)
  local s = states[key]
  if s then return s end
  if kind == 'r' then
    s = { kind = 'r', tat = tonumber(redis.call('GET', key) or '0') }
  else
    s = loadWindow(key)
  end
  states[key] = s
  order[#order + 1] = key
  return s
end

-- The running total of the bookings at or before t.
local function upto(s, t)
  local pending = s.pending
  if #pending > 0 and pending[1].time <= t then
    -- Every totalled booking is before the first pending one: the last pending one at or before t.
    local lo, hi = 1, #pending
    while lo < hi do
      local mid = math.floor((lo + hi + 1) / 2)
      if pending[mid].time <= t then lo = mid else hi = mid - 1 end
    end
    return s.total + s.sums[lo]
  end
  local after = redis.call('ZRANGEBYSCORE', s.key, '(' .. fmt(t), '+inf', 'LIMIT', 0, 1)
  if #after == 0 then return s.total end
  local _, _, before = parse(after[1])
  if before == nil then return s.total end
  return before
end

-- The running total of the bookings that still count, at or before t (prune: none at or before the floor).
local function counted(s, t)
  return upto(s, math.max(t, s.floor))
end

-- The running total through the booking of rank r, and its time.
local function through(s, r)
  if r >= s.firstPending then
    local i = r - s.firstPending + 1
    return s.total + s.sums[i], s.pending[i].time
  end
  local got = redis.call('ZRANGE', s.key, r, r, 'WITHSCORES')
  local _, cost, before = parse(got[1])
  return before + cost, tonumber(got[2])
end

-- fitsBefore: whether a booking of cost at at, before the last booking, keeps every span of the window within
-- the limit: the span ending at at, and the spans ending at each booking in (at, at + window).
local function fitsBefore(s, limit, window, cost, at)
  local low = counted(s, at - window)
  if counted(s, at) - low + cost > limit then return false end
  -- Every such span lies in (at - window, at + window): when all of that fits, so does each (one lookup).
  if counted(s, at + window) - low + cost <= limit then return true end
  -- Ending at each booking of an instant, the last of them counting all: the same answer as ending at it.
  for r = redis.call('ZCOUNT', s.key, '-inf', fmt(at)), s.count - 1 do
    local sum, time = through(s, r)
    if time >= at + window then return true end
    if sum - counted(s, time - window) + cost > limit then return false end
  end
  return true
end

-- earliest, for a window item (cost already clamped to the limit).
local function earliestWindow(s, limit, window, cost, from)
  if s.lastTime == nil then return from end
  local last = s.lastTime
  if from < last and fitsBefore(s, limit, window, cost, from) then return from end
  -- Otherwise after the last booking, where the count only falls as time goes on.
  local start = math.max(from, last)
  local low = math.max(start - window, s.floor)
  local total = s.total + s.sums[#s.pending]
  local used = total - upto(s, low)
  local at = start
  if used + cost > limit then
    -- Walk forward: each booking leaves the window at its time plus the window. What is left after each
    -- falls in order, so the first booking whose leaving makes room is found by halving.
    local first = redis.call('ZCOUNT', s.key, '-inf', fmt(low))
    local lastRank = s.count - 1
    while first < lastRank do
      local mid = math.floor((first + lastRank) / 2)
      if total - through(s, mid) + cost <= limit then lastRank = mid else first = mid + 1 end
    end
    local _, time = through(s, first)
    at = math.max(start, time + window)
  end
  -- A request that must wait is paced behind the last booking (its cost at the window's average rate).
  if at > from then at = math.max(at, last + s.lastCost * (window / limit)) end
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
    -- prune: nothing at or before now - window counts (the latest such instant, for items sharing a key).
    item.state.floor = math.max(item.state.floor, now - item.window)
  end
  items[i] = item
end
for _, key in ipairs(order) do
  local s = states[key]
  if s.kind == 'w' and s.lastTime ~= nil and s.lastTime <= s.floor then s.lastTime = nil end
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
      itemAt = earliestWindow(item.state, item.limit, item.window, item.cost, at)
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

-- commit every item at the same instant; window bookings stay in time order (after those at or before it).
for i = 1, n do
  local item = items[i]
  local s = item.state
  if item.kind == 'r' then
    s.tat = math.max(s.tat, at) + item.cost * (item.window / item.limit)
  else
    -- Its place among the bookings of the same instant: after them.
    local tie = 0
    if s.endTime ~= nil and at == s.endTime then
      tie = s.endTie + 1
    elseif s.endTime ~= nil and at < s.endTime then
      local same = redis.call('ZREVRANGEBYSCORE', s.key, fmt(at), fmt(at), 'LIMIT', 0, 1)
      if #same > 0 then tie = parse(same[1]) + 1 end
    end
    if delay == 0 and not s.madePending and (#s.pending == 0 or s.pending[1].time > at)
      and (s.totalledTime == nil or s.totalledTime <= at) then
      -- Going now, after every totalled booking and before every pending one: totalled at once.
      redis.call('ZADD', s.key, fmt(at), member(tie, at, item.cost, s.total))
      s.total = s.total + item.cost
      s.totalledTime = at
    else
      -- Pending until its time comes; a totalled booking after it (Redis's clock went back) is pending again.
      if s.totalledTime ~= nil and s.totalledTime > at then
        untotal(s.key, redis.call('ZRANGEBYSCORE', s.key, '(' .. fmt(at), '+inf', 'WITHSCORES'))
        s.totalledTime = at
      end
      redis.call('ZADD', s.key, fmt(at), member(tie, at, item.cost, nil))
      s.madePending = true
    end
    if s.endTime == nil or at >= s.endTime then
      s.endTime = at
      s.endTie = tie
    end
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
    -- Bookings that no longer count go, at most 1000 a call (those left count for nothing either).
    local stale = redis.call('ZCOUNT', key, '-inf', fmt(s.floor))
    if stale > 0 then redis.call('ZREMRANGEBYRANK', key, 0, math.min(stale, 1000) - 1) end
    local life = math.ceil(s.endTime + s.window - now)
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
const cancelLua = prelude + windowLua + `
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
    migrate(key)
    -- The latest booking (at, cost): pending, as it is not due yet, unless Redis's clock went back (then the
    -- totalled bookings after it, which count it, are made pending again).
    local here = redis.call('ZRANGEBYSCORE', key, fmt(at), fmt(at))
    for j = #here, 1, -1 do
      local tie, c, before = parse(here[j])
      if c == cost then
        if before ~= nil then
          local later = redis.call('ZRANGEBYSCORE', key, fmt(at), '+inf', 'WITHSCORES')
          local after = {}
          for k = 1, #later, 2 do
            if tonumber(later[k + 1]) > at or parse(later[k]) > tie then
              after[#after + 1] = later[k]
              after[#after + 1] = later[k + 1]
            end
          end
          untotal(key, after)
        end
        redis.call('ZREM', key, here[j])
        break
      end
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
