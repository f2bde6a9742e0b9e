/**
 * Builds a `Snapshot` from the registry's series: groups them by the
 * attributes of the naming scheme (`client`, `host`, `key`), sums counters
 * and gauges over the attributes it does not keep (`method`, say), merges
 * histograms, and reads quantiles from them. Series of other names, or of an
 * unexpected type, are ignored.
 */
import type * as Metric from "effect/Metric"
import * as Snapshot from "../Snapshot.ts"
import { names } from "./names.ts"
import * as Quantiles from "./quantile.ts"

type Entry = Metric.Metric.Snapshot

/** Counts by key, in first-seen order until sorted. */
class Tally {
  readonly counts = new Map<string, number>()
  add(key: string, value: number): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + value)
  }
  get total(): number {
    let total = 0
    for (const value of this.counts.values()) total += value
    return total
  }
  get(key: string): number {
    return this.counts.get(key) ?? 0
  }
  record(skip?: string): Record<string, number> {
    const out: Record<string, number> = {}
    for (const key of [...this.counts.keys()].toSorted(compare)) {
      if (key !== skip) out[key] = this.counts.get(key)!
    }
    return out
  }
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/** The value of `map[key]`, made by `make` on first use. */
const entry = <V>(map: Map<string, V>, key: string, make: () => V): V => {
  let value = map.get(key)
  if (value === undefined) {
    value = make()
    map.set(key, value)
  }
  return value
}

const sorted = <V>(map: Map<string, V>): Array<[string, V]> => [...map].toSorted(([a], [b]) => compare(a, b))

class HostAcc {
  readonly statusClasses = new Tally()
  readonly statuses = new Tally()
  readonly outcomes = new Tally()
  readonly histograms: Array<Quantiles.Histogram> = []
  readonly retries = new Tally()
  bulkheadRejections = 0
  breaker: number | undefined
}

class ClientAcc {
  inFlight = 0
  circuitsOpen = 0
  readonly transitions = new Tally()
  readonly pool = new Map<string, number>()
  readonly hosts = new Map<string, HostAcc>()
}

class KeyAcc {
  readonly histograms: Array<Quantiles.Histogram> = []
  readonly acquisitions = new Tally()
  readonly holds = new Tally()
  holdSeconds = 0
}

class DownloadAcc {
  readonly outcomes = new Tally()
  bytes = 0
  resumes = 0
  restarts = 0
  continuations = 0
  segments = 0
  readonly checksumFailures = new Tally()
  readonly histograms: Array<Quantiles.Histogram> = []
}

const breakerStates: ReadonlyArray<Snapshot.BreakerState> = ["closed", "half_open", "open"]

/** `1xx`..`5xx` from a status such as `503`; `none` for `none` or anything else. */
export const statusClassOf = (status: string | undefined): string => {
  if (status === undefined || !/^[1-5]\d\d$/.test(status)) return "none"
  return `${status[0]}xx`
}

/** The host of a breaker key: the key itself, or the host of an origin (`http://h:1`). */
const hostOfKey = (key: string): string => {
  if (!key.includes("://")) return key
  try {
    return new URL(key).host
  } catch {
    return key
  }
}

const attribute = (item: Entry, name: string, fallback: string): string => item.attributes?.[name] ?? fallback

const counterValue = (item: Entry): number | undefined => item.type === "Counter" ? Number(item.state.count) : undefined

const gaugeValue = (item: Entry): number | undefined => item.type === "Gauge" ? Number(item.state.value) : undefined

const histogramValue = (item: Entry): Quantiles.Histogram | undefined =>
  item.type === "Histogram" ? item.state : undefined

const distribution = (histograms: ReadonlyArray<Quantiles.Histogram>): Snapshot.Distribution | undefined => {
  const merged = Quantiles.merge(histograms)
  if (merged === undefined || merged.count <= 0) return undefined
  return new Snapshot.Distribution({
    count: merged.count,
    sum: merged.sum,
    min: merged.min,
    mean: merged.sum / merged.count,
    max: merged.max,
    p50: quantileOf(merged, 0.5),
    p90: quantileOf(merged, 0.9),
    p95: quantileOf(merged, 0.95),
    p99: quantileOf(merged, 0.99)
  })
}

const quantileOf = (histogram: Quantiles.Histogram, q: number): Snapshot.Quantile =>
  new Snapshot.Quantile(Quantiles.quantile(histogram, q)!)

/** The snapshot of `entries`, as `Metric.snapshot` gives them. */
export const build = (entries: ReadonlyArray<Entry>): Snapshot.Snapshot => {
  const clients = new Map<string, ClientAcc>()
  const keys = new Map<string, KeyAcc>()
  const downloads = new Map<string, DownloadAcc>()
  const client = (item: Entry) => entry(clients, attribute(item, "client", "default"), () => new ClientAcc())
  const host = (item: Entry) => entry(client(item).hosts, attribute(item, "host", "none"), () => new HostAcc())
  const key = (item: Entry) => entry(keys, attribute(item, "key", "all"), () => new KeyAcc())
  const download = (item: Entry) => entry(downloads, attribute(item, "host", "none"), () => new DownloadAcc())

  for (const item of entries) {
    switch (item.id) {
      case names.clientRequests: {
        const value = counterValue(item)
        if (value === undefined) break
        const stats = host(item)
        const status = attribute(item, "status", "none")
        stats.statuses.add(status, value)
        stats.statusClasses.add(item.attributes?.["status_class"] ?? statusClassOf(status), value)
        stats.outcomes.add(attribute(item, "outcome", "unknown"), value)
        break
      }
      case names.clientRequestDuration: {
        const value = histogramValue(item)
        if (value !== undefined) host(item).histograms.push(value)
        break
      }
      case names.clientRetries: {
        const value = counterValue(item)
        if (value !== undefined) host(item).retries.add(attribute(item, "reason", "unknown"), value)
        break
      }
      case names.clientBulkheadRejections: {
        const value = counterValue(item)
        if (value !== undefined) host(item).bulkheadRejections += value
        break
      }
      case names.clientInFlight: {
        const value = gaugeValue(item)
        if (value !== undefined) client(item).inFlight += value
        break
      }
      case names.clientCircuitsOpen: {
        const value = gaugeValue(item)
        if (value !== undefined) client(item).circuitsOpen += value
        break
      }
      case names.clientCircuitTransitions: {
        const value = counterValue(item)
        if (value !== undefined) {
          client(item).transitions.add(
            `${attribute(item, "from", "unknown")}\n${attribute(item, "to", "unknown")}`,
            value
          )
        }
        break
      }
      case names.clientCircuitState: {
        const value = gaugeValue(item)
        if (value === undefined || !(value >= 0 && value <= 2)) break
        const stats = entry(
          client(item).hosts,
          hostOfKey(attribute(item, "key", attribute(item, "host", "none"))),
          () => new HostAcc()
        )
        stats.breaker = Math.max(stats.breaker ?? 0, Math.round(value))
        break
      }
      case names.clientPoolConnections:
      case names.clientPoolRequests: {
        const value = gaugeValue(item)
        if (value === undefined) break
        const pool = client(item).pool
        const state = attribute(item, "state", "unknown")
        pool.set(state, (pool.get(state) ?? 0) + value)
        break
      }
      case names.rateLimiterWait: {
        const value = histogramValue(item)
        if (value !== undefined) key(item).histograms.push(value)
        break
      }
      case names.rateLimiterAcquisitions: {
        const value = counterValue(item)
        if (value !== undefined) key(item).acquisitions.add(attribute(item, "outcome", "unknown"), value)
        break
      }
      case names.rateLimiterHolds: {
        const value = counterValue(item)
        if (value !== undefined) key(item).holds.add(attribute(item, "reason", "unknown"), value)
        break
      }
      case names.rateLimiterHoldSeconds: {
        const value = counterValue(item)
        if (value !== undefined) key(item).holdSeconds += value
        break
      }
      case names.downloadFiles: {
        const value = counterValue(item)
        if (value !== undefined) download(item).outcomes.add(attribute(item, "outcome", "unknown"), value)
        break
      }
      case names.downloadBytes:
      case names.downloadResumes:
      case names.downloadRestarts:
      case names.downloadContinuations:
      case names.downloadSegments: {
        const value = counterValue(item)
        if (value === undefined) break
        const stats = download(item)
        if (item.id === names.downloadBytes) stats.bytes += value
        else if (item.id === names.downloadResumes) stats.resumes += value
        else if (item.id === names.downloadRestarts) stats.restarts += value
        else if (item.id === names.downloadContinuations) stats.continuations += value
        else stats.segments += value
        break
      }
      case names.downloadChecksumFailures: {
        const value = counterValue(item)
        if (value !== undefined) download(item).checksumFailures.add(attribute(item, "algorithm", "unknown"), value)
        break
      }
      case names.downloadDuration: {
        const value = histogramValue(item)
        if (value !== undefined) download(item).histograms.push(value)
        break
      }
    }
  }

  return new Snapshot.Snapshot({
    clients: sorted(clients).map(([name, acc]) => clientStats(name, acc)),
    rateLimiter: sorted(keys).map(([name, acc]) => limiterStats(name, acc)),
    downloads: sorted(downloads).map(([name, acc]) => downloadStats(name, acc))
  })
}

const clientStats = (name: string, acc: ClientAcc): Snapshot.ClientStats => {
  const pool = acc.pool.size === 0 ? {} : {
    pool: new Snapshot.PoolStats({
      connected: acc.pool.get("connected") ?? 0,
      free: acc.pool.get("free") ?? 0,
      running: acc.pool.get("running") ?? 0,
      pending: acc.pool.get("pending") ?? 0,
      queued: acc.pool.get("queued") ?? 0
    })
  }
  return new Snapshot.ClientStats({
    name,
    inFlight: acc.inFlight,
    circuitsOpen: acc.circuitsOpen,
    transitions: [...acc.transitions.counts].toSorted(([a], [b]) => compare(a, b)).map(([kind, count]) => {
      const [from, to] = kind.split("\n") as [string, string]
      return new Snapshot.Transition({ from, to, count })
    }),
    ...pool,
    hosts: sorted(acc.hosts).map(([host, stats]) => hostStats(host, stats))
  })
}

const hostStats = (host: string, acc: HostAcc): Snapshot.HostStats => {
  const latency = distribution(acc.histograms)
  const requests = acc.outcomes.total
  return new Snapshot.HostStats({
    host,
    requests,
    statusClasses: acc.statusClasses.record(),
    statuses: acc.statuses.record(),
    outcomes: acc.outcomes.record(),
    errors: requests - acc.outcomes.get("success"),
    errorsByTag: acc.outcomes.record("success"),
    ...(latency === undefined ? {} : { latency }),
    retries: acc.retries.total,
    retriesByReason: acc.retries.record(),
    bulkheadRejections: acc.bulkheadRejections,
    ...(acc.breaker === undefined ? {} : { breaker: breakerStates[acc.breaker]! })
  })
}

const limiterStats = (name: string, acc: KeyAcc): Snapshot.LimiterStats => {
  const merged = Quantiles.merge(acc.histograms)
  const waits = merged === undefined || merged.count <= 0 ? {} : {
    waits: new Snapshot.Waits({
      count: merged.count,
      totalSeconds: merged.sum,
      p50: quantileOf(merged, 0.5),
      p90: quantileOf(merged, 0.9),
      p99: quantileOf(merged, 0.99)
    })
  }
  return new Snapshot.LimiterStats({
    key: name,
    ...waits,
    acquisitions: acc.acquisitions.record(),
    denials: acc.acquisitions.get("refused"),
    holds: acc.holds.total,
    holdsByReason: acc.holds.record(),
    holdSeconds: acc.holdSeconds
  })
}

const downloadStats = (name: string, acc: DownloadAcc): Snapshot.DownloadStats => {
  const duration = distribution(acc.histograms)
  return new Snapshot.DownloadStats({
    host: name,
    files: acc.outcomes.total,
    outcomes: acc.outcomes.record(),
    bytes: acc.bytes,
    resumes: acc.resumes,
    restarts: acc.restarts,
    continuations: acc.continuations,
    segments: acc.segments,
    checksumFailures: acc.checksumFailures.total,
    checksumFailuresByAlgorithm: acc.checksumFailures.record(),
    ...(duration === undefined ? {} : { duration })
  })
}
