/**
 * Records one client's metrics (`ClientMetrics`): per call, a counter and a
 * histogram updated once it ends; per retry, a counter; per bulkhead
 * rejection, a counter; per circuit transition, a counter and the circuit's
 * state. Each attribute set's metric is made once and kept, so a call costs
 * two registry lookups, none when it repeats the series of the call before
 * (none of Effect's `withAttributes`, which copies the fiber's context on
 * every update). Gauges (calls in flight, open circuits, circuit states, the
 * pool) are registered once and read only when the registry is.
 */
import * as MetricBoundaries from "@httpkit/core/MetricBoundaries"
import * as MetricSeries from "@httpkit/core/MetricSeries"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type * as Scope from "effect/Scope"
import * as ClientMetrics from "../ClientMetrics.ts"

/** A circuit's state as the metrics name it. */
export type CircuitState = "closed" | "open" | "half_open"

/** The value of `ClientMetrics.circuitState` for each state. */
const stateValues: Record<CircuitState, number> = { closed: 0, half_open: 1, open: 2 }

/** What the pipeline and the breakers report. */
export interface Recorder {
  /** A call started: one more in flight. */
  readonly started: () => void
  /** A call ended; `status` is the last response's, `outcome` `success` or the error's tag. */
  readonly ended: (
    context: Context.Context<never>,
    method: string,
    url: URL | undefined,
    status: number | undefined,
    outcome: string,
    millis: number
  ) => void
  /** An attempt failed with `reason` and is tried again. */
  readonly retried: (context: Context.Context<never>, url: URL, reason: string) => void
  /** A call was refused by a full bulkhead; `url` is the call's (redacted) URL. */
  readonly bulkheadRejected: (context: Context.Context<never>, url: string) => void
  /** The circuit of `key` (the breaker's key: host or origin) changed state. */
  readonly transition: (context: Context.Context<never>, from: CircuitState, to: CircuitState, key: string) => void
}

const knownMethods = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"])

/** `make`'s recorder for a client whose metrics are off. */
export const disabled: Recorder = {
  started: () => {},
  ended: () => {},
  retried: () => {},
  bulkheadRejected: () => {},
  transition: () => {}
}

/** The `status_class` of a status: `2xx` for 200 to 299, `none` without a status (or outside 100 to 599). */
const statusClassOf = (status: number | undefined): string =>
  status !== undefined && status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : "none"

/** One metric per attribute set (joined into `key`), made on first use. */
const cached = <M>(make: (key: string) => M) => {
  const made = new Map<string, M>()
  return (key: string): M => {
    let metric = made.get(key)
    if (metric === undefined) {
      metric = make(key)
      made.set(key, metric)
    }
    return metric
  }
}

/**
 * A recorder for the client named `client`, with its in-flight gauge
 * registered in the current registry until the scope closes.
 */
export const make = (client: string): Effect.Effect<Recorder, never, Scope.Scope> =>
  Effect.gen(function*() {
    let inFlight = 0
    yield* register(ClientMetrics.inFlight, { client }, () => inFlight)

    const boundedHost = MetricSeries.bounded(ClientMetrics.maxHosts)
    const hostOf = (url: URL | undefined): string => url === undefined ? "none" : boundedHost(url.host)
    const requests = cached((key) => {
      const [method, host, status, statusClass, outcome] = key.split("\n") as [string, string, string, string, string]
      return MetricSeries.counter(ClientMetrics.requests, {
        client,
        method,
        host,
        status,
        status_class: statusClass,
        outcome
      })
    })
    const durations = cached((key) => {
      const [method, host] = key.split("\n") as [string, string]
      return MetricSeries.histogram(ClientMetrics.requestDuration, MetricBoundaries.seconds, { client, method, host })
    })
    const retries = cached((key) => {
      const [host, reason] = key.split("\n") as [string, string]
      return MetricSeries.counter(ClientMetrics.retries, { client, host, reason })
    })
    const transitions = cached((key) => {
      const [from, to] = key.split("\n") as [string, string]
      return MetricSeries.counter(ClientMetrics.circuitTransitions, { client, from, to })
    })
    const rejections = cached((host) => MetricSeries.counter(ClientMetrics.bulkheadRejections, { client, host }))
    const circuits = yield* circuitStates(client)

    // The last call's series: most calls repeat the one before (same method, host, status and outcome),
    // which then costs no key building or lookup here.
    let last: {
      readonly method: string
      readonly host: string | undefined
      readonly status: number | undefined
      readonly outcome: string
      readonly counter: Metric.Metric<number, unknown>
      readonly histogram: Metric.Metric<number, unknown>
    } | undefined

    return {
      started: () => {
        inFlight += 1
      },
      ended: (context, method, url, status, outcome, millis) => {
        inFlight -= 1
        const rawHost = url?.host
        if (
          last === undefined || last.host !== rawHost || last.method !== method || last.status !== status ||
          last.outcome !== outcome
        ) {
          const methodLabel = knownMethods.has(method) ? method : "OTHER"
          const host = hostOf(url)
          const statusLabel = status === undefined ? "none" : String(status)
          last = {
            method,
            host: rawHost,
            status,
            outcome,
            counter: requests(`${methodLabel}\n${host}\n${statusLabel}\n${statusClassOf(status)}\n${outcome}`),
            histogram: durations(`${methodLabel}\n${host}`)
          }
        }
        last.counter.updateUnsafe(1, context)
        last.histogram.updateUnsafe(millis / 1_000, context)
      },
      retried: (context, url, reason) => {
        retries(`${hostOf(url)}\n${reason}`).updateUnsafe(1, context)
      },
      bulkheadRejected: (context, url) => {
        let parsed: URL | undefined
        try {
          parsed = new URL(url)
        } catch {
          parsed = undefined
        }
        rejections(hostOf(parsed)).updateUnsafe(1, context)
      },
      transition: (context, from, to, key) => {
        transitions(`${from}\n${to}`).updateUnsafe(1, context)
        circuits.set(key, to)
      }
    } satisfies Recorder
  })

/**
 * Registers a gauge series whose value `read` gives when the registry is
 * read, in the current context's registry, removed when the scope closes.
 */
export const register = (
  gauge: Metric.Gauge<number>,
  attributes: Readonly<Record<string, string>>,
  read: () => number
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.flatMap(Effect.context<never>(), (context) => {
    const registration = Metric.registerUnsafe(Metric.withAttributes(gauge, attributes), context, {
      get: () => ({ value: read() }),
      update: () => {},
      modify: () => {}
    })
    return Effect.addFinalizer(() => Effect.sync(registration.remove))
  })

/**
 * The circuits' states of the client named `client`, as the gauge
 * `ClientMetrics.circuitState` shows them: a key's series is registered at its
 * first transition (in the registry of the context `make` ran in) and reads
 * the state kept here; beyond `maxHosts` keys, the series `other` shows the
 * highest state among the rest. Every series is removed when the scope closes.
 */
const circuitStates = (
  client: string
): Effect.Effect<{ readonly set: (key: string, state: CircuitState) => void }, never, Scope.Scope> =>
  Effect.gen(function*() {
    const context = yield* Effect.context<never>()
    const registrations: Array<Metric.Registration> = []
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const registration of registrations) registration.remove()
      })
    )
    const registerKey = (key: string, read: () => number) => {
      registrations.push(Metric.registerUnsafe(
        Metric.gauge(
          ClientMetrics.circuitState.id,
          MetricSeries.options({ description: ClientMetrics.circuitState.description, attributes: { client, key } })
        ),
        context,
        { get: () => ({ value: read() }), update: () => {}, modify: () => {} }
      ))
    }
    const tracked = new Map<string, CircuitState>()
    // The keys beyond `maxHosts` whose circuit is not closed: the series `other` shows the highest state among them.
    const others = new Map<string, CircuitState>()
    let otherRegistered = false
    const otherValue = () => {
      let highest = 0
      for (const state of others.values()) highest = Math.max(highest, stateValues[state])
      return highest
    }
    return {
      set: (key, state) => {
        if (tracked.has(key)) {
          tracked.set(key, state)
        } else if (tracked.size < ClientMetrics.maxHosts) {
          tracked.set(key, state)
          registerKey(key, () => stateValues[tracked.get(key)!])
        } else {
          if (state === "closed") others.delete(key)
          else others.set(key, state)
          if (!otherRegistered) {
            otherRegistered = true
            registerKey("other", otherValue)
          }
        }
      }
    }
  })
