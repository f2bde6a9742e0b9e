/**
 * Runs the download examples under `examples/` as real child processes
 * (`node examples/<file>`, from the repository root), each with its embedded
 * fault-injection server, and checks the line that proves each one's point.
 */
import { assert, it } from "@effect/vitest"
import * as NodeChild from "@httpkit/testing/NodeChild"
import { join } from "node:path"

const root = join(import.meta.dirname, "..", "..", "..")

/** Runs `node examples/<file>` from the repository root, killed after 90 s. */
const runExample = (file: string) => NodeChild.run([join("examples", file)], { cwd: root, timeoutMillis: 90_000 })

it("node examples/download-resumable.ts: 24 MiB cut every 4 MiB arrives verified, every break continued", async () => {
  const run = await runExample("download-resumable.ts")
  assert.strictEqual(run.code, 0, run.output)
  assert.match(run.output, /dataset\.bin: 24\.0 MiB, sha256 verified: true, broken bodies continued: 5,/, run.output)
}, 100_000)

it("node examples/download-images.ts: 60 files verified, at most 3 at once per host", async () => {
  const run = await runExample("download-images.ts")
  assert.strictEqual(run.code, 0, run.output)
  assert.match(run.output, /^60 of 60 files verified in [\d.]+ s, at most [123] at once per host$/m, run.output)
}, 100_000)

it(
  "node examples/download-batch-retry.ts: the first pass reports 5 typed failures, retryFailed recovers 3",
  async () => {
    const run = await runExample("download-batch-retry.ts")
    assert.strictEqual(run.code, 0, run.output)
    assert.match(run.output, /^first pass: 5 succeeded, 5 failed$/m, run.output)
    assert.match(run.output, /^after retryFailed: 8 succeeded, 2 failed$/m, run.output)
    assert.match(run.output, /^ {2}file-3: NotFoundError$/m, run.output)
    assert.match(run.output, /^ {2}file-4: ChecksumMismatchError$/m, run.output)
  },
  100_000
)
