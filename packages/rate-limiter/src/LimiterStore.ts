/**
 * Where a rate limiter keeps its state: the contract every backend keeps, and
 * the in-memory backend.
 *
 * A store answers four questions atomically, each in one step (one Redis
 * script, one SQLite transaction, one synchronous block in memory): may this
 * request go, and when (`reserve`); block a key for a while (`block`, from
 * server feedback); take and give back a concurrency slot (`lease`,
 * `release`). Stores keep time themselves (Redis its `TIME`, the local store
 * the machine's clock, the memory store Effect's `Clock`), so processes with
 * skewed clocks still agree.
 *
 * **Backends**
 *
 * - `layerMemory`: one process; the default. Runs under `TestClock`.
 * - `RedisStore.layer`: processes and machines sharing a Redis.
 * - `LocalStore.layer`: processes and worker threads on one machine sharing
 *   one SQLite file, without a server.
 *
 * **Gotchas**
 *
 * The memory store keeps at most `maxKeys` keys, and forgets only state that
 * no longer limits anything (a refilled bucket, a window whose entries all
 * left it, an expired block or lease): forgetting a live state would reset
 * its limit. When every key it holds still limits something, a new key is
 * refused with `RateLimiterUnavailableError` until the first frees.
 *
 * @since 0.1.0
 */
import * as ConfigProblem from "@httpkit/core/ConfigProblem"
import type { RateLimiterUnavailableError } from "@httpkit/core/RateLimitError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Algorithm from "./internal/algorithm.ts"
import * as MemoryStore from "./internal/memoryStore.ts"
import * as Own from "./internal/own.ts"
import { PolicyError } from "./Policy.ts"

/**
 * One limit a request must pass: the policy's arithmetic, the id of its
 * state (policy and key), and what the request costs.
 *
 * @category models
 * @since 0.1.0
 */
export type Item = Algorithm.Item

/**
 * A store's answer to `reserve`: granted after a delay (the slot is booked),
 * or refused with the time until it could be granted (nothing is booked).
 *
 * @category models
 * @since 0.1.0
 */
export type Reservation = Algorithm.Reservation

/**
 * What `reserve` is asked.
 *
 * @category models
 * @since 0.1.0
 */
export interface ReserveRequest {
  /** Every limit the request must pass; all are booked at one instant, or none. */
  readonly items: ReadonlyArray<Item>
  /** The key whose server-imposed block (see `block`) applies, if any. */
  readonly blockKey: string | undefined
  /**
   * Refuse instead of booking when the wait would be longer than this. It is
   * also how long the caller can wait for the answer: a store that may be slow
   * (Redis) waits up to this long for it instead of failing sooner.
   */
  readonly maxWaitMillis: number
}

/**
 * What `cancel` is asked: a booking `reserve` granted with a delay, whose
 * request will not go.
 *
 * @category models
 * @since 0.1.0
 */
export interface CancelRequest {
  /** The items as they were reserved. */
  readonly items: ReadonlyArray<Item>
  /** The reservation's `at`. */
  readonly at: number
}

/**
 * What `lease` is asked.
 *
 * @category models
 * @since 0.1.0
 */
export interface LeaseRequest {
  /** The concurrency state's id (policy and key). */
  readonly id: string
  /** How many slots there are. */
  readonly max: number
  /** The holder's token, given back to `release`. */
  readonly token: string
  /** How long the slot is held at most, should its holder never release it. */
  readonly leaseMillis: number
  /**
   * How long the caller can wait for the answer: a store that may be slow
   * (Redis) waits up to this long for it instead of failing sooner. A slot
   * that is full is still answered `Full` at once.
   *
   * @default 0 (the store's own timeout)
   */
  readonly maxWaitMillis?: number | undefined
}

/**
 * A store's answer to `lease`.
 *
 * @category models
 * @since 0.1.0
 */
export type LeaseResult =
  | { readonly _tag: "Granted" }
  | { readonly _tag: "Full"; readonly retryAfterMillis: number }

/**
 * The contract of a limiter backend. Every operation is atomic; failures are
 * `RateLimiterUnavailableError` (the limiter decides whether to fail closed
 * or fall back).
 *
 * @category models
 * @since 0.1.0
 */
export interface Store {
  /** `memory`, `redis` or `local`: named in errors and logs. */
  readonly backend: string
  /**
   * Whether every call ends within a bound of the store's own (its timeout, or
   * because it answers synchronously). When not, the limiter bounds each call
   * with its `storeTimeout`.
   */
  readonly selfBounded?: boolean | undefined
  /** Books every item at the earliest instant they all allow, or refuses. */
  readonly reserve: (request: ReserveRequest) => Effect.Effect<Reservation, RateLimiterUnavailableError>
  /**
   * Optional: gives back a booking not yet due whose waiter went away (the
   * limiter calls it when a waiting acquisition is interrupted), for
   * reservations granted with an `at`. A window's booking is removed, a
   * rate's only when it is the latest. Stores without it leave the
   * slot booked and unused.
   */
  readonly cancel?: ((request: CancelRequest) => Effect.Effect<void, RateLimiterUnavailableError>) | undefined
  /** Nothing under `key` is granted for `millis` from now (a longer block already set stays). */
  readonly block: (key: string, millis: number) => Effect.Effect<void, RateLimiterUnavailableError>
  /** Takes a concurrency slot of `id` under `token`, held until released or `leaseMillis` pass. */
  readonly lease: (request: LeaseRequest) => Effect.Effect<LeaseResult, RateLimiterUnavailableError>
  /** Gives a slot back; releasing an unknown or expired token does nothing. */
  readonly release: (id: string, token: string) => Effect.Effect<void, RateLimiterUnavailableError>
}

/**
 * The limiter's backend.
 *
 * @category services
 * @since 0.1.0
 */
export class LimiterStore extends Context.Service<LimiterStore, Store>()("@httpkit/rate-limiter/LimiterStore") {}

/**
 * Options of the memory store.
 *
 * @category models
 * @since 0.1.0
 */
export interface MemoryOptions {
  /**
   * Most keys held (item states, blocks and lease sets together): a whole
   * number of at least 1. Only keys that limit nothing any more are
   * forgotten; when every key held still does, a new key is refused (see
   * `makeMemory`).
   *
   * @default 10000
   */
  readonly maxKeys?: number | undefined
}

/**
 * A store in this process's memory, on Effect's `Clock` (so `TestClock`
 * drives it in tests). Fails with `PolicyError` when `maxKeys` is not a whole
 * number of at least 1 (`maxKeys is NaN, expected a whole number of at least 1`).
 *
 * It holds at most `maxKeys` keys, and forgets only state that no longer
 * limits anything. When every key held still does, a new key is refused with
 * `RateLimiterUnavailableError` (`backend: "memory"`, `retryable: true`, a
 * `detail` naming the bound and when the first key frees) rather than a live
 * limit forgotten; keys already held are served as ever.
 *
 * @category constructors
 * @since 0.1.0
 */
export function makeMemory(): Effect.Effect<Store>
export function makeMemory(options: MemoryOptions | undefined): Effect.Effect<Store, PolicyError>
export function makeMemory(options: MemoryOptions = {}): Effect.Effect<Store, PolicyError> {
  const maxKeys = Own.get(options, "maxKeys") ?? MemoryStore.defaultMaxKeys
  if (!(Number.isSafeInteger(maxKeys) && maxKeys >= 1)) {
    return Effect.fail(
      PolicyError.fromProblems("(none)", [{
        setting: "maxKeys",
        received: ConfigProblem.show(maxKeys),
        expected: "a whole number of at least 1"
      }])
    )
  }
  return MemoryStore.make(maxKeys, "raise maxKeys (LimiterStore.layerMemory({ maxKeys }))")
}

/**
 * The memory store as a layer; fails with `PolicyError` when `maxKeys` is not
 * a whole number of at least 1.
 *
 * @category layers
 * @since 0.1.0
 */
export function layerMemory(): Layer.Layer<LimiterStore>
export function layerMemory(options: MemoryOptions | undefined): Layer.Layer<LimiterStore, PolicyError>
export function layerMemory(options: MemoryOptions = {}): Layer.Layer<LimiterStore, PolicyError> {
  return Layer.effect(LimiterStore, makeMemory(options))
}
