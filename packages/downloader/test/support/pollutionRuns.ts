/**
 * What the pollution tests share: running a child process over the names to
 * pollute (again after a crash, over the names it did not reach) against a
 * test server of the test's process, what the test server saw of one name's
 * requests, and each name's outcome compared with the unpolluted baseline's.
 */
import { assert } from "@effect/vitest"
import { NodeChild, TestServer } from "@httpkit/testing"
import { Effect, Exit, Scope } from "effect"
import { rmSync } from "node:fs"
import { afterAll, beforeAll } from "vitest"

/** A request as the test server recorded it. */
export interface Recorded {
  readonly method: string
  readonly path: string
  readonly query: string
  readonly headers: Readonly<Record<string, string>>
}

/** Headers that differ from one call to the next whatever happens: ids, trace context, the port in `host`. */
const volatileHeaders = new Set(["x-request-id", "b3", "traceparent", "host"])

/**
 * What the server saw of the requests marked `marker` (`?probe=`): sorted
 * (workers and segments run concurrently), the marker neutral, volatile
 * headers left out, every other header's value as `header` shows it.
 */
export const seen = (
  records: ReadonlyArray<Recorded>,
  marker: string,
  header: (name: string, value: string) => string = (_, value) => value
) =>
  records
    .filter((record) => new URLSearchParams(record.query).get("probe") === marker)
    .map((record) => {
      const headers: Record<string, string> = {}
      for (const [name, value] of Object.entries(record.headers)) {
        if (!volatileHeaders.has(name)) headers[name] = header(name, value)
      }
      return JSON.stringify({ method: record.method, path: record.path, query: record.query, headers })
        .replaceAll(marker, "MARKER")
    })
    .toSorted()

/** How to run a pollution child over some keys. */
export interface ChildRun<Outcome> {
  /** The child's script. */
  readonly script: string
  /** Its one argument, for the keys still to run. */
  readonly input: (keys: ReadonlyArray<string>) => unknown
  /** The prefix of the lines carrying one key's outcome (JSON after it). */
  readonly tag: string
  readonly timeoutMillis: number
  /** The outcome of a key the child crashed on. */
  readonly crashed: (key: string, stderr: string) => Outcome
}

/** Runs the child over `keys`; after a crash, again over the keys it did not reach. */
export const runOverKeys = async <Outcome>(run: ChildRun<Outcome>, keys: ReadonlyArray<string>) => {
  const outcomes: Array<Outcome> = []
  let stderr = ""
  let remaining = keys
  while (remaining.length > 0) {
    const { stderr: errors, stdout } = await NodeChild.run(
      [run.script, JSON.stringify(run.input(remaining))],
      { timeoutMillis: run.timeoutMillis, dropEnv: ["HTTPKIT_*"] }
    )
    stderr += errors
    const done = stdout.split("\n").filter((line) => line.startsWith(run.tag)).map((line) =>
      JSON.parse(line.slice(run.tag.length)) as Outcome
    )
    outcomes.push(...done)
    if (done.length >= remaining.length) break
    outcomes.push(run.crashed(remaining[done.length]!, errors.slice(-2_000)))
    remaining = remaining.slice(done.length + 1)
  }
  return { outcomes, stderr }
}

/** What a child printed for one key: its marker, and what it saw. */
export interface Outcome {
  readonly key: string
  readonly marker: string
  readonly crashed?: string
}

/** What the child reported, comparable with the baseline (the marker in names made neutral, `leftOut` calls removed). */
export const view = (outcome: Outcome, leftOut: ReadonlyArray<string> = []) => {
  const { elapsedMs: _elapsed, key: _key, marker, ...rest } = outcome as Outcome & { readonly elapsedMs?: number }
  const shown = JSON.parse(JSON.stringify(rest).replaceAll(marker, "MARKER")) as Record<string, unknown>
  for (const call of leftOut) delete shown[call]
  return shown
}

/** One run of a child over the baseline `""` and the names: what it reported per key, and what the server saw. */
export interface World<O extends Outcome> {
  readonly outcomes: Map<string, O>
  readonly records: ReadonlyArray<Recorded>
  readonly stderr: string
}

/**
 * Registers, around the tests of the current block, one run of a child over `keys`: before them a test server
 * starts (and `child` says how to run the child against it, preparing what it needs in the server's scope); after
 * them the server closes and `folder` is removed. Gives the run, to await in each test.
 */
export const pollutionWorld = <O extends Outcome>(
  keys: ReadonlyArray<string>,
  folder: string,
  child: (url: string, scope: Scope.Scope) => Promise<ChildRun<O>>
): () => Promise<World<O>> => {
  let scope: Scope.Closeable | undefined
  let world: Promise<World<O>> | undefined
  beforeAll(async () => {
    scope = Effect.runSync(Scope.make())
    const server = await Effect.runPromise(TestServer.make().pipe(Scope.provide(scope)))
    const run = await child(server.url, scope)
    world = runOverKeys<O>(run, keys).then(async ({ outcomes, stderr }) => ({
      outcomes: new Map(outcomes.map((outcome) => [outcome.key, outcome])),
      records: (await Effect.runPromise(server.requests)) as ReadonlyArray<Recorded>,
      stderr
    }))
  }, 60_000)
  afterAll(async () => {
    if (scope !== undefined) await Effect.runPromise(Scope.close(scope, Exit.void))
    rmSync(folder, { recursive: true, force: true })
  })
  return () => world!
}

/**
 * Asserts that the child reported `name`, and that its outcome and its requests (as `requests` shows those of a
 * marker) are the baseline's, `leftOut` calls aside.
 */
export const assertLikeBaseline = <O extends Outcome>(
  { outcomes, stderr }: World<O>,
  name: string,
  requests: (marker: string) => ReadonlyArray<string>,
  leftOut: ReadonlyArray<string> = []
) => {
  const baseline = outcomes.get("")!
  const outcome = outcomes.get(name)
  assert.isDefined(outcome, `the child never reported ${name}: ${stderr.slice(-2_000)}`)
  assert.deepStrictEqual(view(outcome!, leftOut), view(baseline, leftOut))
  assert.deepStrictEqual(requests(outcome!.marker), requests(baseline.marker))
}
