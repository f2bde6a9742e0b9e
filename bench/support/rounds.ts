/**
 * Paired rounds in fresh processes: the one way the benchmarks measure CPU
 * time per request.
 *
 * Every case (a client, or a variant of one, at one concurrency) runs in a
 * fresh Node process of its own: no case shares JIT state, inline caches or
 * garbage with another. A round runs every case once; `R` rounds are run. A
 * case's figure against its anchor is the ratio of the two **within each
 * round**, and the figure printed is the median of those `R` ratios
 * (`stats.medianOfRatios`). On a busy 2-core machine, where one process moves
 * by tens of percent from one minute to the next, pairing by round cancels
 * the drift that dividing two medians keeps; single rounds still range widely,
 * so only the median is worth quoting.
 *
 * Instructions counted by callgrind (`client-instructions.ts`) do not need
 * this: they do not move with load.
 */
import { spawn } from "node:child_process"
import { performance } from "node:perf_hooks"

/** `items` rotated left by `round` places, so that no item always runs first. */
export const rotated = <A>(items: ReadonlyArray<A>, round: number): ReadonlyArray<A> =>
  items.map((_, i) => items[(i + round) % items.length]!)

/**
 * `items` in an order drawn for `round` (the same every run: a fixed seed per
 * round), so that no item always runs first, nor always right after the same
 * other one, whose leftovers (dirty pages, a warm cache, a busy disk) it
 * would otherwise always meet.
 */
export const shuffled = <A>(items: ReadonlyArray<A>, round: number): ReadonlyArray<A> => {
  const out = [...items]
  // mulberry32: a small generator, good enough to draw an order.
  let state = (0x9e3779b9 * (round + 1)) >>> 0
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1))
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

/** How to run the rounds. */
export interface RoundsOptions<Case, Sample> {
  /** Every case; each runs once per round. */
  readonly cases: ReadonlyArray<Case>
  readonly rounds: number
  /** The order of the cases in round `round` (0-based). Default: `cases` rotated by `round`. */
  readonly order?: ((cases: ReadonlyArray<Case>, round: number) => ReadonlyArray<Case>) | undefined
  /** Runs one case once (in a fresh process: see `inFreshProcess`). */
  readonly run: (item: Case, round: number) => Promise<Sample>
  /** Told when a round ends, with its wall time in seconds. */
  readonly onRound?: ((round: number, seconds: number) => void) | undefined
}

/**
 * Runs the rounds one after the other; resolves with each case's samples in
 * round order (index `i` of every case is round `i`, which is what pairing by
 * round needs).
 */
export const pairedRounds = async <Case, Sample>(
  options: RoundsOptions<Case, Sample>
): Promise<Map<Case, Array<Sample>>> => {
  const samples = new Map<Case, Array<Sample>>(options.cases.map((item) => [item, []]))
  const order = options.order ?? rotated
  for (let round = 0; round < options.rounds; round++) {
    const started = performance.now()
    for (const item of order(options.cases, round)) samples.get(item)!.push(await options.run(item, round))
    options.onRound?.(round, (performance.now() - started) / 1000)
  }
  return samples
}

/** The usual `onRound`: `round 2/5 done in 41.3 s` on stderr. */
export const reportRound = (rounds: number) => (round: number, seconds: number): void => {
  process.stderr.write(`round ${round + 1}/${rounds} done in ${seconds.toFixed(1)} s\n`)
}

/**
 * Runs `node ARGS` in a fresh process (stderr passed through) and resolves
 * with the last line it printed on stdout, parsed as JSON; rejects, naming
 * `label`, if it exits with another status than 0 or prints no JSON.
 */
export const inFreshProcess = <A>(args: ReadonlyArray<string>, label: string): Promise<A> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] })
    let stdout = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk
    })
    child.once("error", reject)
    child.once("close", (status) => {
      const line = stdout.trim().split("\n").at(-1) ?? ""
      if (status !== 0 || !line.startsWith("{")) {
        reject(new Error(`${label} failed (status ${status}): ${stdout.slice(-500)}`))
      } else {
        resolve(JSON.parse(line) as A)
      }
    })
  })

/** The child's side of `inFreshProcess`: `value` as one JSON line on stdout. */
export const reportToParent = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value)}\n`)
}
