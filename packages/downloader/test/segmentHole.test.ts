/**
 * RELIABILITY 1: a transfer that ends before every segment is whole never
 * puts a file at the destination, even without a checksum to notice. The
 * early end is real: `Object.prototype.end` stops Effect 4.1's concurrent
 * `forEach` after its first item (pinned in `pollution.test.ts`), so a
 * segmented download fetches its first segment only. Before the check, the
 * other three quarters of the file arrived as zeros, reported as success.
 */
import { assert, it } from "@effect/vitest"
import { NodeChild, TestServer } from "@httpkit/testing"
import { Effect } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

it.live(
  "a segmented download whose transfer stops after 1 of 4 segments fails with BodyLengthError (1048576 bytes expected, 0 received); nothing at the destination",
  () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const folder = mkdtempSync(join(tmpdir(), "httpkit-dl-hole-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(folder, { recursive: true, force: true })))
      const run = yield* Effect.promise(() =>
        NodeChild.run([
          join(import.meta.dirname, "support", "segmentHoleChild.ts"),
          JSON.stringify({ url: server.url, folder })
        ], {
          timeoutMillis: 60_000,
          dropEnv: ["HTTPKIT_*"]
        })
      )
      const line = run.stdout.trim().split("\n").at(-1) ?? ""
      assert.isTrue(line.startsWith("{"), `the child failed (status ${run.code}): ${run.output}`)
      const outcome = JSON.parse(line) as { ok: boolean; error?: string; files: Array<string> }
      assert.isFalse(outcome.ok, `the download succeeded with a hole: ${line}`)
      assert.include(outcome.error, "BodyLengthError")
      assert.include(outcome.error, "1048576 bytes announced (0 received)")
      assert.notInclude(outcome.files, "hole.bin")
      // Only the first segment's range was asked for: the transfer really stopped early.
      const ranges = (yield* server.requestsTo("/files/hole.bin")).filter((request) => request.method === "GET")
      assert.lengthOf(ranges, 1)
    }).pipe(Effect.scoped),
  { timeout: 90_000 }
)
