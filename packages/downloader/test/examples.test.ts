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

it(
  "node examples/download-worker.ts and download-producer.ts: --help prints the usage; a bad argument exits 2 and says which",
  async () => {
    for (const file of ["download-worker.ts", "download-producer.ts"]) {
      const help = await NodeChild.run([join("examples", file), "--help"], { cwd: root })
      assert.strictEqual(help.code, 0, help.output)
      assert.match(
        help.stdout,
        new RegExp(`^usage: node examples/${file.replace(".", "\\.")} --redis URL`),
        help.output
      )
    }
    const bad = [
      [
        "download-worker.ts",
        ["--redis", "redis://127.0.0.1:6379", "--concurrency", "zero"],
        /--concurrency must be a positive integer, got "zero"/
      ],
      [
        "download-worker.ts",
        ["--redis", "redis://127.0.0.1:6379", "--until", "later"],
        /--until must be "idle" or "shutdown"/
      ],
      ["download-worker.ts", ["--redis", "redis://127.0.0.1:6379", "--lease", "soon"], /--lease must be a duration/],
      ["download-worker.ts", ["--bogus"], /Unknown option '--bogus'/],
      ["download-producer.ts", ["--redis", "redis://127.0.0.1:6379"], /give at least one URL/],
      ["download-producer.ts", ["--redis", "redis://127.0.0.1:6379", "ftp://example.com/a"], /not an http\(s\) URL/],
      [
        "download-producer.ts",
        ["--redis", "redis://127.0.0.1:6379", "http://example.com/a#sha256=12"],
        /64 hex digits/
      ],
      ["download-producer.ts", ["--redis", "localhost", "http://example.com/a"], /--redis must be a redis:\/\//]
    ] as const
    for (const [file, args, message] of bad) {
      const run = await NodeChild.run([join("examples", file), ...args], { cwd: root, dropEnv: ["REDIS_URL"] })
      assert.strictEqual(run.code, 2, `${file} ${args.join(" ")}: ${run.output}`)
      assert.match(run.stderr, message, run.output)
    }
  },
  100_000
)
