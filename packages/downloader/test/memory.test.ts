/**
 * Constant memory: a download's peak resident set does not grow with the
 * file's size. Each download runs in a fresh process (its own peak), once
 * for 128 MiB and once for 512 MiB (below about 100 MiB the collector has not
 * reached its steady state, so smaller files peak lower).
 */
import { assert, it } from "@effect/vitest"
import * as TestServer from "@httpkit/testing/TestServer"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as Path from "node:path"
import { expectedSha256, tempFolder } from "./support/setup.ts"

const child = Path.join(import.meta.dirname, "support", "memoryChild.ts")

const peakRss = (url: string, destination: string, sha256: string) =>
  Effect.callback<{ readonly bytes: number; readonly maxRssKiB: number }, Error>((resume) => {
    const process_ = spawn(process.execPath, [child, url, destination, sha256], {
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 120_000,
      killSignal: "SIGKILL"
    })
    let output = ""
    process_.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
    process_.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
    process_.on("close", (code) => {
      if (code !== 0) resume(Effect.fail(new Error(`child exited ${code}: ${output}`)))
      else resume(Effect.succeed(JSON.parse(output.trim().split("\n").at(-1)!)))
    })
    return Effect.sync(() => process_.kill("SIGKILL"))
  })

it.live(
  "peak RSS downloading 512 MiB is within 48 MiB of the peak for 128 MiB (verified with sha256, one stream)",
  () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const folder = yield* tempFolder
      const small = 128 * 1024 * 1024
      const large = 512 * 1024 * 1024
      const a = yield* peakRss(
        server.urlFor(`/files/s.bin?size=${small}&seed=1`),
        Path.join(folder, "s.bin"),
        expectedSha256(1, small)
      )
      const b = yield* peakRss(
        server.urlFor(`/files/l.bin?size=${large}&seed=2`),
        Path.join(folder, "l.bin"),
        expectedSha256(2, large)
      )
      assert.strictEqual(a.bytes, small)
      assert.strictEqual(b.bytes, large)
      assert.isBelow(b.maxRssKiB - a.maxRssKiB, 48 * 1024, `128 MiB: ${a.maxRssKiB} KiB, 512 MiB: ${b.maxRssKiB} KiB`)
    }).pipe(Effect.scoped),
  180_000
)
