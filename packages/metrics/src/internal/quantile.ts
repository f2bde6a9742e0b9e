/**
 * Quantiles from a histogram's cumulative buckets, each with the interval the
 * true value is known to lie in.
 *
 * The true q-quantile is the nearest-rank one: the k-th smallest of the n
 * recorded values, k = max(1, ceil(q * n)). It lies in the first bucket whose
 * cumulative count reaches k (a bucket holds the values above the previous
 * boundary, up to and including its own), and between the recorded min and
 * max. The estimate interpolates linearly inside that interval, at
 * (q * n - below) / inBucket of the way: so it lies in the same interval, and
 * its error is at most the interval's width.
 */

/** A histogram's state as Effect's `Metric.HistogramState` gives it. */
export interface Histogram {
  /** `[boundary, values <= boundary]`, boundaries ascending; values above the last are in `count` only. */
  readonly buckets: ReadonlyArray<readonly [number, number]>
  readonly count: number
  readonly min: number
  readonly max: number
  readonly sum: number
}

/** An estimated quantile and the interval `[lower, upper]` that holds the true one. */
export interface Estimate {
  readonly value: number
  readonly lower: number
  readonly upper: number
}

/** The q-quantile (0 <= q <= 1) of `histogram`; `undefined` when it holds no value. */
export const quantile = (histogram: Histogram, q: number): Estimate | undefined => {
  const { buckets, count, max, min } = histogram
  if (count <= 0) return undefined
  const rank = Math.min(Math.max(q, 0), 1) * count
  const k = Math.max(1, Math.ceil(rank))
  let below = 0
  let edge = -Infinity
  for (const [boundary, cumulative] of buckets) {
    if (cumulative >= k) return within(edge, boundary, below, cumulative - below, rank, min, max)
    below = cumulative
    edge = boundary
  }
  // Above the last boundary: the bucket that only `count` knows.
  return within(edge, Infinity, below, count - below, rank, min, max)
}

const within = (
  edgeLower: number,
  edgeUpper: number,
  below: number,
  inBucket: number,
  rank: number,
  min: number,
  max: number
): Estimate => {
  const lower = Math.min(Math.max(edgeLower, min), max)
  const upper = Math.max(Math.min(edgeUpper, max), lower)
  const fraction = inBucket > 0 ? Math.min(Math.max((rank - below) / inBucket, 0), 1) : 1
  return { value: lower + (upper - lower) * fraction, lower, upper }
}

/**
 * Several histograms of one metric as one (the series of one host over its
 * methods, say). With the same boundaries the buckets add up; otherwise the
 * result keeps only the boundaries all of them share, where every cumulative
 * count is exact, so the stated bounds stay true (only wider).
 */
export const merge = (histograms: ReadonlyArray<Histogram>): Histogram | undefined => {
  const [first, ...rest] = histograms
  if (first === undefined) return undefined
  if (rest.length === 0) return first
  const shared = rest.reduce(
    (boundaries, histogram) => {
      const own = new Set(histogram.buckets.map(([boundary]) => boundary))
      return boundaries.filter((boundary) => own.has(boundary))
    },
    first.buckets.map(([boundary]) => boundary)
  )
  const buckets = shared.map((boundary): readonly [number, number] => [
    boundary,
    histograms.reduce((total, histogram) => total + cumulativeAt(histogram, boundary), 0)
  ])
  return {
    buckets,
    count: histograms.reduce((total, histogram) => total + histogram.count, 0),
    min: Math.min(...histograms.map((histogram) => histogram.min)),
    max: Math.max(...histograms.map((histogram) => histogram.max)),
    sum: histograms.reduce((total, histogram) => total + histogram.sum, 0)
  }
}

const cumulativeAt = (histogram: Histogram, boundary: number): number => {
  for (const [own, cumulative] of histogram.buckets) {
    if (own === boundary) return cumulative
  }
  return 0
}
