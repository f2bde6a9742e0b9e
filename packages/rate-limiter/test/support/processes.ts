/**
 * The store tests' OS processes: `limitedProcess.ts` in processes that share
 * one limit, started together once all of them have opened their store (and
 * warmed up), so a slow start on a loaded machine delays the run instead of
 * shortening it; and `localOpen.ts` in processes opening one local file at
 * once.
 */
import { assert } from "@effect/vitest"
import * as NodeChild from "@httpkit/testing/NodeChild"
import { Effect } from "effect"
import { fileURLToPath } from "node:url"

const script = fileURLToPath(new URL("./limitedProcess.ts", import.meta.url))

/** What one `limitedProcess.ts` recorded. */
export interface Recorded {
  /** When its requests were admitted (epoch ms). */
  readonly admitted: ReadonlyArray<number>
  readonly late: number
  readonly failed: number
  readonly errors: ReadonlyArray<string>
}

/** What a `limitedProcess.ts` prints: `ready` once its store is open, then what it recorded. */
type Printed = { readonly _tag: "ready" } | { readonly _tag: "recorded"; readonly recorded: Recorded }

/** Starts one `limitedProcess.ts` that waits for its start time on stdin; each wait at most 90 s. */
const startProcess = (args: ReadonlyArray<string>) =>
  NodeChild.start<Printed>([script, ...args], {
    stdin: true,
    timeoutMillis: 90_000,
    parse: (line) => {
      if (line === "ready") return { _tag: "ready" }
      try {
        return { _tag: "recorded", recorded: JSON.parse(line) as Recorded }
      } catch {
        return undefined
      }
    }
  })

/** What a started process recorded, once it exited 0. */
const recordedBy = (child: NodeChild.Child<Printed>) =>
  Effect.gen(function*() {
    const line = yield* child.until("its record", (line) => line._tag === "recorded")
    const ended = yield* child.ended
    assert.strictEqual(ended.code, 0, `limitedProcess exited ${ended.code}: ${child.diagnostics()}`)
    return (line as Extract<Printed, { _tag: "recorded" }>).recorded
  })

/**
 * One `limitedProcess.ts` per entry of `argsOf` (its arguments before the
 * start, which is `stdin`), started together 200 ms after all are ready;
 * `starting` runs just before they are told when (with that instant, epoch
 * ms). What each recorded, and the start.
 */
export const runTogether = (
  argsOf: ReadonlyArray<ReadonlyArray<string>>,
  starting: (start: number) => Effect.Effect<void> = () => Effect.void
) =>
  Effect.gen(function*() {
    const running = yield* Effect.all(
      argsOf.map((args) => startProcess([...args.slice(0, 5), "stdin", ...args.slice(5)]))
    )
    yield* Effect.all(running.map((one) => one.until("ready", (line) => line._tag === "ready")), {
      concurrency: "unbounded"
    })
    const start = Date.now() + 200
    yield* starting(start)
    for (const one of running) yield* one.write(`${start}\n`, { end: true })
    const records = yield* Effect.all(running.map(recordedBy), { concurrency: "unbounded" })
    return { records, start }
  })

const openScript = fileURLToPath(new URL("./localOpen.ts", import.meta.url))

/** `count` processes (`localOpen.ts`) open the local store's file at `path` at once: each must say it opened it. */
export const assertOpenAtOnce = (path: string, count = 8) => {
  const open = () => NodeChild.run([openScript, path], { timeoutMillis: 30_000 })
  return Effect.gen(function*() {
    const runs = yield* Effect.promise(() => Promise.all(Array.from({ length: count }, open)))
    for (const run of runs) {
      assert.strictEqual(run.code, 0, run.output)
      assert.deepStrictEqual(JSON.parse(run.stdout.trim()), { opened: true })
    }
  })
}
