/**
 * Runs every command of the examples table of `packages/metrics/README.md`
 * exactly as written there: `npm run example -- <name> [flags]`, which npm
 * runs as the root `package.json`'s `example` script,
 * `node scripts/bootstrap.mjs example`, followed by the flags. Each starts
 * its embedded fault-injection server and must print the lines that prove
 * its point; a README row without expected lines here, or expected lines
 * whose row is gone, fails.
 */
import { assert, it } from "@effect/vitest"
import * as DocumentedCommands from "@httpkit/testing/DocumentedCommands"
import * as NodeChild from "@httpkit/testing/NodeChild"
import { join } from "node:path"

const root = join(import.meta.dirname, "..", "..", "..")

const example = "npm run example -- "

/** The `npm run example -- ...` commands in the first column of the README's tables. */
const commands = DocumentedCommands.inFile(join(root, "packages/metrics/README.md"), example)

/** Each command and the lines that prove its point. */
const expected: Readonly<Record<string, ReadonlyArray<RegExp>>> = {
  "npm run example -- metrics-service": [
    /^made 400 calls with 16 fibers: 352 succeeded, 48 failed$/m,
    /^scraped http:\/\/127\.0\.0\.1:\d+\/metrics: \d+ httpkit families, \d+ samples$/m,
    // The table, printed at exit: one row per host, 200 calls each, 20 of them 404s.
    /^client +host +calls +2xx +3xx +4xx +5xx +errors +p50 +p90 +p99 +max +retries +breaker$/m,
    /^service +127\.0\.0\.1:\d+ +200 +176 +0 +20 +0 +24 /m,
    /^service +localhost:\d+ +200 +176 +0 +20 +0 +24 /m,
    /^httpkit rate limiter$/m
  ]
}

it("every documented command has its expected lines, and every expected line its command", () => {
  assert.deepStrictEqual(commands.toSorted(), Object.keys(expected).toSorted())
})

for (const command of commands) {
  it(`${command}: the lines that prove its point, exit 0`, async () => {
    const run = await NodeChild.run(
      ["scripts/bootstrap.mjs", "example", ...DocumentedCommands.argumentsOf(command, example)],
      { cwd: root, timeoutMillis: 90_000 }
    )
    assert.strictEqual(run.code, 0, run.output)
    for (const line of expected[command] ?? []) assert.match(run.output, line, run.output)
  }, 100_000)
}
