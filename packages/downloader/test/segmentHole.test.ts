/**
 * RELIABILITY 1: a transfer that ends before every segment is whole never
 * puts a file at the destination, even without a checksum to notice. The
 * early end is real: `Object.prototype.end` stops Effect 4.1's concurrent
 * `forEach` after its first item (pinned in `pollution.test.ts`), so a
 * segmented download fetches its first segment only. Before the check, the
 * other three quarters of the file arrived as zeros, reported as success.
 */
import { assert, it } from "@effect/vitest"
import { TestServer } from "@httpkit/testing"
import { Effect } from "effect"
import { join } from "node:path"
import { childReport, tempFolder } from "./support/setup.ts"

it.live(
  "a segmented download whose transfer stops after 1 of 4 segments fails with BodyLengthError (1048576 bytes expected, 0 received); nothing at the destination",
  () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const folder = yield* tempFolder
      const outcome = yield* childReport<{ ok: boolean; error?: string; files: Array<string> }>([
        join(import.meta.dirname, "support", "segmentHoleChild.ts"),
        JSON.stringify({ url: server.url, folder })
      ])
      assert.isFalse(outcome.ok, `the download succeeded with a hole: ${JSON.stringify(outcome)}`)
      assert.include(outcome.error, "BodyLengthError")
      assert.include(outcome.error, "1048576 bytes announced (0 received)")
      assert.notInclude(outcome.files, "hole.bin")
      // Only the first segment's range was asked for: the transfer really stopped early.
      const ranges = (yield* server.requestsTo("/files/hole.bin")).filter((request) => request.method === "GET")
      assert.lengthOf(ranges, 1)
    }).pipe(Effect.scoped),
  { timeout: 90_000 }
)
