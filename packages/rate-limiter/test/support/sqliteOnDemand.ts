/**
 * A child program for `Standalone.test.ts`: it imports `@httpkit/rate-limiter`
 * by its package name (the root, which re-exports `LocalStore`), runs a limit
 * on the memory store, imports the `RedisStore` and `ClientRateLimit`
 * subpaths, and last builds a local store and runs a limit on it. After each
 * step it notes whether Node has loaded `node:sqlite`, and every warning the
 * process emitted during the step (on Node 22, loading `node:sqlite` emits
 * `ExperimentalWarning: SQLite is an experimental feature`; Node 24 emits
 * none). It prints one JSON line.
 *
 * Whether `node:sqlite` is loaded is read from `process.moduleLoadList`, where
 * Node names every built-in module it has loaded (`NativeModule sqlite`): a
 * signal on every version, warning or not. The last step, which does load it,
 * shows that the signal works.
 */
import type * as Package from "@httpkit/rate-limiter"
import type { Layer as LayerType } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

/** Whether Node has loaded `node:sqlite` in this process. */
const sqliteLoaded = (): boolean =>
  (process as unknown as { readonly moduleLoadList: ReadonlyArray<string> }).moduleLoadList.some((name) =>
    /\bsqlite\b/.test(name)
  )

let step = "start"
const warnings: Array<{ readonly step: string; readonly name: string; readonly message: string }> = []
process.on("warning", (warning) => warnings.push({ step, name: warning.name, message: warning.message }))

/** Whether `node:sqlite` was loaded after `run`, once the warnings it emitted (on the next tick) are in. */
const after = async (name: string, run: () => Promise<unknown>): Promise<boolean> => {
  step = name
  await run()
  await new Promise((resolve) => setImmediate(resolve))
  return sqliteLoaded()
}

const folder = Fs.mkdtempSync(Path.join(Os.tmpdir(), "httpkit-sqlite-on-demand-"))
try {
  // Only types are imported above: the package itself is imported here, in its step.
  let Root: typeof Package | undefined
  const root = await after("root", async () => {
    Root = await import("@httpkit/rate-limiter")
  })
  const { LimiterStore, LocalStore, Policy, RateLimiter } = Root!
  const { Effect, Layer } = await import("effect")

  /** Four permits from a limit of three a minute on `store`: how each went. */
  const limit = (store: LayerType.Layer<Package.LimiterStore.LimiterStore, unknown>) =>
    Effect.runPromise(
      Effect.gen(function*() {
        const limiter = yield* RateLimiter.RateLimiter
        return yield* Effect.forEach(
          [1, 2, 3, 4],
          () =>
            limiter.withPermit(Effect.succeed("granted"), { key: "jobs" }).pipe(
              Effect.catchTag("RateLimitExceededError", (error) => Effect.succeed(error._tag))
            )
        )
      }).pipe(
        Effect.provide(
          RateLimiter.layer({
            policies: [Policy.window({ limit: 3, window: "1 minute", keyBy: "global" })],
            onLimit: "fail"
          }).pipe(Layer.provide(store))
        )
      )
    )

  let outcomes: Record<string, ReadonlyArray<string>> = {}
  const memory = await after("memory", async () => {
    outcomes = { ...outcomes, memory: await limit(LimiterStore.layerMemory()) }
  })
  const subpaths = await after("subpaths", async () => {
    await import("@httpkit/rate-limiter/RedisStore")
    await import("@httpkit/rate-limiter/ClientRateLimit")
  })
  const local = await after("local", async () => {
    outcomes = { ...outcomes, local: await limit(LocalStore.layer({ path: Path.join(folder, "limits.sqlite") })) }
  })
  console.log(JSON.stringify({ loaded: { root, memory, subpaths, local }, outcomes, warnings }))
} finally {
  Fs.rmSync(folder, { recursive: true, force: true })
}
