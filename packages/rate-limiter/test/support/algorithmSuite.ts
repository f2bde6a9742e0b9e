/**
 * The answers of a store that keeps its state outside memory (the local
 * SQLite file, the Redis scripts) against `algorithm.ts` on plain arrays,
 * written once and run for each backend: random sequences of reservations,
 * give-backs (now and then of a booking's first items only), blocks, leases
 * and releases at instants the test chooses, every answer and every state
 * that still counts compared. Where `storeSuite.ts` checks the contract on a
 * store's real clock, this suite drives the clock: a window of hundreds of
 * bookings, bookings far ahead, a clock that goes back.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, type Scope } from "effect"
import * as Algorithm from "../../src/internal/algorithm.ts"
import type * as LimiterStore from "../../src/LimiterStore.ts"
import { rateItem, windowItem } from "./items.ts"

/** The state of one backend for one sequence, its clock read from the suite's `now`. */
export interface Session {
  /** How many connections the operations are drawn over (the local store's two processes); default 1. */
  readonly connections?: number
  readonly reserve: (
    connection: number,
    items: ReadonlyArray<LimiterStore.Item>,
    blockKey: string | undefined,
    maxWaitMillis: number
  ) => Effect.Effect<Algorithm.Reservation>
  readonly cancel: (connection: number, items: ReadonlyArray<LimiterStore.Item>, at: number) => Effect.Effect<void>
  readonly block: (connection: number, key: string, millis: number) => Effect.Effect<void>
  readonly lease: (
    connection: number,
    id: string,
    max: number,
    token: string,
    leaseMillis: number
  ) => Effect.Effect<ReturnType<typeof Algorithm.lease> | undefined>
  readonly release: (connection: number, id: string, token: string) => Effect.Effect<void>
  /** A rate's stored instant (`tat`), `undefined` once its state is gone. */
  readonly tat: (item: LimiterStore.Item) => Effect.Effect<number | undefined>
  /**
   * A window's stored bookings as a log `[time, cost, ...]` in time order (ties in the order made), checking on
   * the way what the store keeps beside them (`what` names the step).
   */
  readonly log: (item: LimiterStore.Item, what: string) => Effect.Effect<ReadonlyArray<number>>
  /**
   * Once the suite's `now` is past the last instant any state, block or lease matters: sweeps until a sweep
   * deletes nothing (a bounded number of times), and says how many rows are left (a store that sweeps).
   */
  readonly sweptLeft?: Effect.Effect<number>
}

/** One backend of the suite. */
export interface Backend {
  /** The backend's name in the suite's title. */
  readonly name: string
  /** What computes the answers, for the test titles: "the store computes", "the scripts compute". */
  readonly computes: string
  /** The same with "still": "the store still computes". */
  readonly stillComputes: string
  /** Whose clock the third test moves back and forth: "the clock", "Redis's clock". */
  readonly clock: string
  /** Opens a fresh state, its clock at `now()`, until the scope closes. */
  readonly open: (label: string, now: () => number) => Effect.Effect<Session, never, Scope.Scope>
  /**
   * Whether a booking ahead carries exactly `now + delayMillis` (a store reading the suite's clock in this
   * process); otherwise within a microsecond of the delay (an instant that went through Redis's numbers).
   */
  readonly exactInstants: boolean
}

/** What one run draws from. */
interface Draws {
  /** The items requests draw from, each given a cost drawn from `costs`. */
  readonly specs: ReadonlyArray<LimiterStore.Item>
  readonly seeds: ReadonlyArray<number>
  readonly steps: number
  readonly timeSteps: ReadonlyArray<number>
  readonly costs: ReadonlyArray<number>
  readonly maxWaits: ReadonlyArray<number>
  /** The keys whose blocks requests check (`undefined`: none). */
  readonly blockKeys: ReadonlyArray<string | undefined>
  /** The indexes in `specs` of one request's items (`pick()` draws one at random). */
  readonly request: (pick: () => number, random: () => number) => ReadonlyArray<number>
}

/** What a run exercised. */
interface Counts {
  granted: number
  refused: number
  cancels: number
  leases: number
  /** The most bookings one window held. */
  longest: number
  /** The most bookings of one window ahead of the clock. */
  mostAhead: number
  /** Window bookings made before bookings already there (ahead, or after the clock went back). */
  before: number
  /** Rows left once a store that sweeps swept past every state, block and lease. */
  swept: number
}

/**
 * Just past the last instant at which `algorithm.ts`'s states, the blocks or the leases still matter: a state's
 * expiry (`Algorithm.expiresAt`, with the longest window its id serves), a block's end, a lease's expiry; 1 ms
 * on, so a store that keeps a row past it (a state expiring later than the log says) is caught.
 */
const pastEverything = (
  specs: ReadonlyArray<LimiterStore.Item>,
  states: ReadonlyMap<string, Algorithm.ItemState>,
  blocks: ReadonlyMap<string, number>,
  leases: ReadonlyMap<string, Algorithm.Leases>
): number => {
  const windows = new Map<string, number>()
  for (const spec of specs) {
    if (spec.kind === "window") windows.set(spec.id, Math.max(windows.get(spec.id) ?? 0, spec.windowMillis))
  }
  let last = 0
  for (const [id, state] of states) last = Math.max(last, Algorithm.expiresAt(state, windows.get(id) ?? 0))
  for (const until of blocks.values()) last = Math.max(last, until)
  for (const held of leases.values()) for (const expiry of held.values()) last = Math.max(last, expiry)
  return last + 1
}

/** Runs random sequences of `draws` through a session of `backend` and through `algorithm.ts`, each seed afresh. */
const sameAsAlgorithm = (backend: Backend, draws: Draws) =>
  Effect.gen(function*() {
    const counts: Counts = {
      granted: 0,
      refused: 0,
      cancels: 0,
      leases: 0,
      longest: 0,
      mostAhead: 0,
      before: 0,
      swept: 0
    }
    for (const seed of draws.seeds) {
      let seedState = seed * 7_919
      const random = () => {
        seedState = (seedState * 1_103_515_245 + 12_345) % 2_147_483_648
        return seedState / 2_147_483_648
      }
      const pick = <A>(values: ReadonlyArray<A>): A => values[Math.floor(random() * values.length)]!
      // Fractional, so times go through the store exactly too.
      let now = Date.now() + 0.123_456
      yield* Effect.scoped(Effect.gen(function*() {
        const session = yield* backend.open(`seed-${seed}`, () => now)
        const connections = session.connections ?? 1
        const states = new Map<string, Algorithm.ItemState>()
        const stateOf = (item: Omit<LimiterStore.Item, "cost">) => {
          let found = states.get(item.id)
          if (found === undefined) states.set(item.id, found = Algorithm.emptyState())
          return found
        }
        const blocks = new Map<string, number>()
        const leases = new Map<string, Algorithm.Leases>()
        const bookings: Array<{ readonly items: ReadonlyArray<LimiterStore.Item>; readonly at: number }> = []
        /** What the store keeps is what memory keeps (counting only what still matters). */
        const sameStates = (items: ReadonlyArray<LimiterStore.Item>, what: string) =>
          Effect.gen(function*() {
            for (const item of items) {
              const state = stateOf(item)
              if (item.kind === "rate") {
                const tat = yield* session.tat(item)
                if (tat === undefined) assert.ok(state.tat <= now, `${what}: the state of ${item.id} vanished early`)
                else assert.strictEqual(tat, state.tat, `${what}: tat of ${item.id}`)
                continue
              }
              const counting = (entries: ReadonlyArray<number>) =>
                entries.flatMap((time, i) =>
                  i % 2 === 0 && time > now - item.windowMillis ? [time, entries[i + 1]!] : []
                ).join()
              const stored = yield* session.log(item, what)
              assert.strictEqual(counting(stored), counting(state.entries), `${what}: ${item.id}`)
              counts.longest = Math.max(counts.longest, state.entries.length / 2)
              counts.mostAhead = Math.max(
                counts.mostAhead,
                state.entries.filter((t, i) => i % 2 === 0 && t > now).length
              )
            }
          })
        for (let step = 0; step < draws.steps; step++) {
          now += pick(draws.timeSteps)
          const connection = connections > 1 ? Math.floor(random() * connections) : 0
          const roll = random()
          if (roll < 0.65) {
            const items = draws.request(() => Math.floor(random() * draws.specs.length), random).map((index) => ({
              ...draws.specs[index]!,
              cost: pick(draws.costs)
            }))
            const blockKey = pick(draws.blockKeys)
            const maxWait = pick(draws.maxWaits)
            const what = `seed ${seed} step ${step}: ${JSON.stringify({ items, blockKey, maxWait })}`
            // Whether a window booking would go before bookings already made (ahead, or after the clock went back).
            const lasts = items.map((item) => stateOf(item).entries.at(-2) ?? Number.NEGATIVE_INFINITY)
            const expected = Algorithm.reserve(
              items.map(stateOf),
              items,
              blockKey === undefined ? 0 : blocks.get(blockKey) ?? 0,
              now,
              maxWait
            )
            const got = yield* session.reserve(connection, items, blockKey, maxWait)
            // A booking ahead carries its instant: the one memory booked at.
            if (got._tag === "Granted" && got.delayMillis > 0) {
              assert.isDefined(got.at, what)
              if (backend.exactInstants) assert.strictEqual(got.at, now + got.delayMillis, what)
              else assert.closeTo(got.at! - now, got.delayMillis, 1e-6, what)
              bookings.push({ items, at: got.at! })
            }
            const { at: _at, ...withoutAt } = got as Algorithm.Reservation & { readonly at?: number }
            assert.deepStrictEqual(withoutAt, expected, what)
            if (expected._tag === "Granted") {
              counts.granted++
              const at = now + expected.delayMillis
              if (items.some((item, i) => item.kind === "window" && at < lasts[i]!)) counts.before++
            } else counts.refused++
            yield* sameStates(items, what)
          } else if (roll < 0.72 && bookings.length > 0) {
            // A waiter went away: its booking (not always the latest, not always still ahead) is given back. Now and
            // then only its first items: one of two bookings of one instant stays, after the one taken back.
            const booking = bookings.splice(Math.floor(random() * bookings.length), 1)[0]!
            const items = random() < 0.3
              ? booking.items.slice(0, 1 + Math.floor(random() * booking.items.length))
              : booking.items
            Algorithm.cancel(items.map(stateOf), items, booking.at, now)
            yield* session.cancel(connection, items, booking.at)
            counts.cancels++
            yield* sameStates(
              booking.items,
              `seed ${seed} step ${step} cancel: ${JSON.stringify({ items, at: booking.at })}`
            )
          } else if (roll < 0.75) {
            const key = pick(["h1", "h2"])
            const millis = pick([20_000, 50_000])
            blocks.set(key, Math.max(blocks.get(key) ?? 0, now + millis))
            yield* session.block(connection, key, millis)
          } else if (roll < 0.92) {
            const id = pick(["pool", "other"])
            const token = pick(["a", "b", "c"])
            const leaseMillis = pick([30_000, 60_000])
            let held = leases.get(id)
            if (held === undefined) leases.set(id, held = new Map())
            const expected = Algorithm.lease(held, 2, token, leaseMillis, now)
            const got = yield* session.lease(connection, id, 2, token, leaseMillis)
            assert.deepStrictEqual(got, expected, `seed ${seed} step ${step} lease`)
            counts.leases++
          } else {
            const id = pick(["pool", "other"])
            const token = pick(["a", "b", "c"])
            leases.get(id)?.delete(token)
            yield* session.release(connection, id, token)
          }
        }
        if (session.sweptLeft !== undefined) {
          // Past the last instant anything matters, the sweeps leave nothing behind. Not a fixed hour on: waiters
          // may be booked more than an hour ahead (a window of 5 a minute paces its queue 12 s a unit), and their
          // states still limit until their last booking leaves its window.
          now = Math.max(now, pastEverything(draws.specs, states, blocks, leases))
          counts.swept += yield* session.sweptLeft
        }
      }))
    }
    return counts
  })

/** The sequences each backend runs, and what each must have exercised. */
const scenarios: ReadonlyArray<{
  readonly title: (backend: Backend) => string
  readonly timeoutMillis: number
  readonly draws: Draws
  /** What the run must have exercised: more than this many of each. */
  readonly above: Partial<Counts>
}> = [
  {
    title: (backend) =>
      `${backend.computes} exactly what algorithm.ts computes on the whole log, on random sequences at chosen instants, give-backs included`,
    timeoutMillis: 60_000,
    // Every length is a multiple of 10 s and time moves in such steps, so a key's TTL (real time, in Redis) never
    // ends while its state still matters at the instants the test chooses.
    draws: {
      specs: [
        rateItem("rate1", 2, 20_000, 1),
        rateItem("rate3", 3, 90_000, 3),
        windowItem("win5", 5, 60_000),
        windowItem("win3", 3, 40_000),
        // The same id as a rate and as a window.
        windowItem("rate1", 4, 50_000)
      ],
      seeds: [1, 2, 3, 4],
      steps: 250,
      timeSteps: [0, 0, 10_000, 20_000, 50_000],
      // A token cost of 0 too: bookings that add nothing to a window's count.
      costs: [1, 1, 1, 2, 4, 7, 0],
      maxWaits: [0, 0, 30_000, 1e9],
      blockKeys: [undefined, undefined, "h1", "h2"],
      request: (pick, random) => Array.from({ length: 1 + Math.floor(random() * 3) }, pick)
    },
    // Both outcomes, give-backs and leases were exercised.
    above: { granted: 100, refused: 100, cancels: 20, leases: 50 }
  },
  {
    title: (backend) =>
      `on a window of hundreds of bookings, many of them ahead (a stacked rate books it up to minutes ahead), ${backend.stillComputes} exactly what algorithm.ts computes`,
    timeoutMillis: 120_000,
    draws: {
      specs: [
        windowItem("big", 300, 60_000),
        // Two a second: a request held by it books the window up to minutes ahead, more than 100 bookings.
        rateItem("pace", 2, 1_000, 1),
        windowItem("small", 7, 10_000)
      ],
      seeds: [11, 12],
      steps: 1_500,
      // Mostly at one instant, so the window fills and waiters book ahead; now and then past the window.
      timeSteps: [...Array.from({ length: 600 }, () => 0), 100, 2_000, 30_000, 61_000],
      costs: [1, 1, 1, 1, 2, 5],
      maxWaits: [0, 1e9, 1e9],
      blockKeys: [undefined],
      // The big window alone (it may fit before the bookings ahead), stacked with the pace, or with both.
      request: (_pick, random) => {
        const roll = random()
        return roll < 0.45 ? [0] : roll < 0.9 ? [0, 1] : [0, 1, 2, 2]
      }
    },
    // The window held more than 250 bookings, more than 100 of them ahead; more than 50 went before others.
    above: { granted: 500, refused: 50, cancels: 30, longest: 250, mostAhead: 100, before: 50 }
  },
  {
    title: (backend) =>
      `when ${backend.clock} goes back and forth, bookings ahead and behind still come out exactly as algorithm.ts computes them`,
    timeoutMillis: 60_000,
    draws: {
      specs: [
        windowItem("twenty", 20, 60_000),
        windowItem("five", 5, 60_000),
        rateItem("pace", 5, 1_000, 1)
      ],
      seeds: [21, 22],
      steps: 600,
      // Within a second either way, so nothing leaves a window of a minute.
      timeSteps: [0, 0, 100, -100, 250, -250],
      costs: [1, 1, 2, 3],
      maxWaits: [0, 1e9],
      blockKeys: [undefined],
      request: (pick, random) => Array.from({ length: 1 + Math.floor(random() * 3) }, pick)
    },
    above: { granted: 200, cancels: 20, before: 20 }
  }
]

/** Runs the comparison with `algorithm.ts` against `backend`. */
export const algorithmSuite = (backend: Backend) =>
  describe(`algorithm.ts conformance: ${backend.name}`, () => {
    for (const scenario of scenarios) {
      it.live(scenario.title(backend), () =>
        Effect.gen(function*() {
          const counts = yield* sameAsAlgorithm(backend, scenario.draws)
          for (const [name, least] of Object.entries(scenario.above)) {
            assert.isAbove(counts[name as keyof Counts], least, `${name}: ${JSON.stringify(counts)}`)
          }
          // A store that sweeps leaves no row once past every state, block and lease.
          assert.strictEqual(counts.swept, 0, `rows left after the sweeps: ${JSON.stringify(counts)}`)
        }), scenario.timeoutMillis)
    }
  })
