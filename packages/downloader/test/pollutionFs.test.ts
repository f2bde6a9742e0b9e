/**
 * RELIABILITY 10 for what the downloader hands to Node's file system and to
 * Effect's metrics and tracer: with `Object.prototype[name]` set to `"x"`,
 * `true` or `0` for each option those read (`signal`, `flush`, `buffer`,
 * `flag`... of `readFile`, `writeFile` and `readlink`; `bigint`,
 * `incremental`, `attributes`... of `Metric.counter` and friends; `links`,
 * `parent`, `root`, `kind`... of a span), a download with a continuation, a
 * resumed `.part` and a client `GET`, metrics and tracing on, end as the
 * unpolluted baseline does: the same results, the same files with the same
 * sha256s (no `.part.lock` or sidecar left), the same spans with the same
 * attribute names, the same metric series with numbers (never `bigint`), and
 * the same requests at the test server.
 *
 * The polluted runs happen in a child process
 * (`support/pollutionFsChild.ts`); the test server runs here.
 */
import { assert, describe, it } from "@effect/vitest"
import { NodeChild, TestServer } from "@httpkit/testing"
import { Effect, Exit, Scope } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll } from "vitest"

/** What Node's `readFile`, `writeFile`, `readlink` and `mkdir` read from their options. */
const fsNames = ["signal", "flush", "buffer", "flag", "encoding", "mode", "recursive"]

/** What Effect's metric constructors read (`MetricSeries.optionNames`). */
const metricNames = ["bigint", "incremental", "description", "attributes", "preregisteredWords", "boundaries"]

/** What Effect reads when it makes a span (`Own.spanOptionNames`). */
const spanNames = ["links", "kind", "root", "parent", "sampled", "annotations", "captureStackTrace", "level"]

const values: ReadonlyArray<unknown> = ["x", true, 0]

const names = [...fsNames, ...metricNames, ...spanNames]

const cases = names.flatMap((name) => values.map((value) => ({ name, value })))

interface Outcome {
  readonly name: string
  readonly value: unknown
  readonly marker: string
}

interface Recorded {
  readonly method: string
  readonly path: string
  readonly query: string
  readonly headers: Readonly<Record<string, string>>
}

const folder = mkdtempSync(join(tmpdir(), "httpkit-pollution-fs-"))
let scope: Scope.Closeable | undefined
let world: Promise<{ outcomes: ReadonlyArray<Outcome>; records: ReadonlyArray<Recorded>; stderr: string }>

beforeAll(async () => {
  scope = Effect.runSync(Scope.make())
  const server = await Effect.runPromise(TestServer.make().pipe(Scope.provide(scope)))
  // One process per name (the first of its values meets metric series not made yet), the baseline first.
  const groups = [
    [{ name: "", value: null as unknown }],
    ...names.map((name) => values.map((value) => ({ name, value })))
  ]
  world = (async () => {
    const outcomes: Array<Outcome> = []
    let stderr = ""
    for (const group of groups) {
      const run = await NodeChild.run(
        [
          join(import.meta.dirname, "support", "pollutionFsChild.ts"),
          JSON.stringify({ url: server.url, folder, cases: group })
        ],
        { timeoutMillis: 60_000, dropEnv: ["HTTPKIT_*"] }
      )
      stderr += run.stderr
      outcomes.push(
        ...run.stdout.split("\n").filter((line) => line.startsWith("@@pollutionFs ")).map((line) =>
          JSON.parse(line.slice("@@pollutionFs ".length)) as Outcome
        )
      )
    }
    return { outcomes, records: (await Effect.runPromise(server.requests)) as ReadonlyArray<Recorded>, stderr }
  })()
}, 60_000)

afterAll(async () => {
  if (scope !== undefined) await Effect.runPromise(Scope.close(scope, Exit.void))
  rmSync(folder, { recursive: true, force: true })
})

/** An outcome without what names the case. */
const view = ({ marker: _marker, name: _name, value: _value, ...rest }: Outcome) => rest

/** What the server saw of a case's requests: method, path (the marker neutral) and the range asked for. */
const seen = (records: ReadonlyArray<Recorded>, marker: string) =>
  records
    .filter((record) => record.path.includes(`/${marker}-`) || record.query.includes(`probe=${marker}`))
    .map((record) => `${record.method} ${record.path.replace(marker, "MARKER")} ${record.headers["range"] ?? ""}`)
    .toSorted()

describe("a polluted Object.prototype changes no file system call, metric or span of a download", () => {
  for (const { name, value } of cases) {
    it(`${name} = ${JSON.stringify(value)}`, { timeout: 300_000 }, async () => {
      const { outcomes, records, stderr } = await world
      const baseline = outcomes.find((outcome) => outcome.name === "")
      const outcome = outcomes.find((outcome) => outcome.name === name && outcome.value === value)
      assert.isDefined(baseline, `no baseline: ${stderr.slice(-2_000)}`)
      assert.isDefined(outcome, `the child never reported ${name}: ${stderr.slice(-2_000)}`)
      assert.deepStrictEqual(view(outcome!), view(baseline!))
      assert.deepStrictEqual(seen(records, outcome!.marker), seen(records, baseline!.marker))
      assert.isNotEmpty(seen(records, baseline!.marker))
    })
  }
})
