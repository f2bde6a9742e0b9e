/**
 * One measured run of a client's call in a child process, the same way for
 * the instruction and CPU benchmarks (`client-instructions.ts`,
 * `metrics.ts`): the clients built in one scope, warm-up calls, a full
 * collection, the measured calls, and with `--cpu` the CPU time per
 * measured call reported to the parent.
 */
import { Effect, Exit, Scope } from "effect"
import { reportToParent } from "./rounds.ts"
import { effectRunner } from "./runners.ts"

/** A scope for what one run builds (clients, layers), closed when the run ends. */
export interface RunScope {
  /** Runs `effect` in the run's scope. */
  readonly build: <A, E>(effect: Effect.Effect<A, E, Scope.Scope>) => Promise<A>
  readonly close: () => Promise<void>
}

/** A new run scope. */
export const runScope = (): RunScope => {
  const scope = Effect.runSync(Scope.make())
  return {
    build: (effect) => Effect.runPromise(Effect.provideService(effect, Scope.Scope, scope)),
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

/**
 * The arguments of one run of `which` in a child process of `script`
 * (its `--run` mode), before the script's own flags.
 */
export const runArguments = (
  script: string,
  which: string,
  run: { readonly calls: number; readonly warmup: number; readonly concurrency: number }
): Array<string> => [
  script,
  "--run",
  which,
  "--calls",
  String(run.calls),
  "--warmup",
  String(run.warmup),
  "--concurrency",
  String(run.concurrency)
]

/** A full collection where the process exposes `gc` (the runs under callgrind do); nothing elsewhere. */
const collectGarbage = (): void => (globalThis as { gc?: () => void }).gc?.()

/** How one run calls. */
export interface Measure {
  readonly warmup: number
  readonly calls: number
  readonly concurrency: number
  /** Reports the CPU time (user and system, every thread) of the measured calls, in µs per call. */
  readonly reportCpu: boolean
  /** Wraps the whole program of each batch of calls once (a tracer provided for every call, say). */
  readonly around?: (program: Effect.Effect<void, unknown>) => Effect.Effect<void, unknown>
}

/**
 * `warmup` calls, a full collection, then `calls` measured calls, each
 * batch with `concurrency` in flight.
 *
 * **Details**
 *
 * The collection before the measured calls matters under callgrind's large
 * fixed heap: without it the old generation keeps every warm-up call's
 * promoted garbage, and each measured call costs more the longer the warm-up
 * was (socket-bare: about 980k instructions per call after 8,000 warm-up
 * calls, 340k after 4,000). It runs in both runs of a case, so the
 * difference of their totals cancels it.
 */
export const measureCalls = async (call: Effect.Effect<unknown, unknown>, measure: Measure): Promise<void> => {
  const run = effectRunner(call, measure.around)
  await run(measure.warmup, measure.concurrency)
  collectGarbage()
  const before = process.cpuUsage()
  await run(measure.calls, measure.concurrency)
  const used = process.cpuUsage(before)
  if (measure.reportCpu) reportToParent({ cpuMicros: (used.user + used.system) / measure.calls })
}
