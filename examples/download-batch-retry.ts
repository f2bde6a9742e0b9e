/**
 * A batch where some files fail, and `retryFailed` for the second pass:
 * 10 files, of which 3 break on their first request and cannot be continued
 * (the downloader here gives up at the first broken body), 1 is missing
 * (404) and 1 has the wrong checksum. The first pass keeps going past every
 * failure and reports each one typed; the second pass fetches the 3 that
 * can now succeed, and keeps the 2 that cannot.
 *
 * Run it with `npm run example -- download-batch-retry` (starts the server
 * embedded), or `npm run example -- download-batch-retry --url http://127.0.0.1:PORT`
 * against a freshly started `npm run test-server`.
 */
import * as ResilientClient from "@httpkit/client/ResilientClient"
import * as Downloader from "@httpkit/downloader/Downloader"
import * as Content from "@httpkit/testing/Content"
import { Console, Effect, Layer } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { check, runMain } from "./support/outcome.ts"
import { serverFlags, serverHelp, serverUrl } from "./support/server.ts"

const usage = `Usage: npm run example -- download-batch-retry [--url URL]

A batch of 10 files with 5 typed failures, then retryFailed recovers 3.

${serverHelp}`
const flags = serverFlags(usage)

const main = Effect.gen(function*() {
  const baseUrl = yield* serverUrl(flags.url)
  const dir = yield* Effect.acquireRelease(
    Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "httpkit-batch-"))),
    (dir) => Effect.promise(() => Fs.rm(dir, { recursive: true, force: true }))
  )
  const run = Date.now()
  const tasks = Array.from({ length: 10 }, (_, i) => {
    const size = 300_000
    // Each name is new for a fresh server's GET counter: drop_times=1 breaks only the first GET.
    const flaky = i < 3 ? "&drop_after=100000&drop_times=1" : ""
    const path = i === 3 ? `/status/404?n=${run}` : `/files/batch-${run}-${i}.bin?size=${size}&seed=${i}${flaky}`
    return {
      id: `file-${i}`,
      url: `${baseUrl}${path}`,
      destination: Path.join(dir, `file-${i}.bin`),
      checksum: `sha256:${Content.digest(i === 4 ? 99 : i, 0, size)}`
    }
  })
  const downloader = yield* Downloader.Downloader
  const first = yield* downloader.downloadAll(tasks, { concurrency: 4 })
  yield* Console.log(`first pass: ${first.succeeded.length} succeeded, ${first.failed.length} failed`)
  for (const failure of first.failed) yield* Console.log(`  ${failure.id}: ${failure.error._tag}`)
  const second = yield* downloader.retryFailed(first)
  yield* Console.log(`after retryFailed: ${second.succeeded.length} succeeded, ${second.failed.length} failed`)
  for (const failure of second.failed) yield* Console.log(`  ${failure.id}: ${failure.error._tag}`)
  yield* check(
    first.succeeded.length === 5 && second.succeeded.length === 8,
    "5 files on the first pass, 8 after retryFailed recovered the 3 flaky ones"
  )
})

// maxStalls: 1 gives up at the first broken body, so that the first pass has failures to retry.
const Live = Downloader.layer({ maxStalls: 1 }).pipe(
  Layer.provide(ResilientClient.layer({ retry: { maxAttempts: 1 } }))
)

runMain(main.pipe(Effect.provide(Live), Effect.scoped))
