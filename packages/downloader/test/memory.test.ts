/**
 * Constant memory: a download's peak resident set does not grow with the
 * file's size. Each download runs in a fresh process (its own peak), once
 * for 128 MiB and once for 512 MiB (below about 100 MiB the collector has not
 * reached its steady state, so smaller files peak lower).
 */
import { assert, it } from "@effect/vitest"
import * as NodeChild from "@httpkit/testing/NodeChild"
import * as TestServer from "@httpkit/testing/TestServer"
import { Effect } from "effect"
import * as Path from "node:path"
import { expectedSha256, tempFolder } from "./support/setup.ts"

const child = Path.join(import.meta.dirname, "support", "memoryChild.ts")

const peakRss = (url: string, destination: string, sha256: string) =>
  Effect.gen(function*() {
    const run = yield* Effect.promise(() =>
      NodeChild.run([child, url, destination, sha256], { timeoutMillis: 120_000 })
    )
    assert.strictEqual(run.code, 0, run.output)
    return JSON.parse(run.stdout.trim().split("\n").at(-1)!) as { readonly bytes: number; readonly maxRssKiB: number }
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
