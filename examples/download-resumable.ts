/**
 * A resumable, verified download with a live progress line: 24 MiB from the
 * fault-injection server, trickled and cut off every 4 MiB. Each break is
 * continued from its last byte, the sha256 covers the whole file, and the
 * file appears only once it is whole.
 *
 * Run it with `npm run example -- download-resumable` (starts the server
 * embedded), or `npm run example -- download-resumable --url http://127.0.0.1:PORT`
 * against one started with `npm run test-server`. Without `--dir` the file
 * goes to a temporary folder that is removed when the run ends, even when it
 * is stopped: nothing is left to resume. With `--dir DIR` the file and its
 * `.part` stay in DIR; stop the run with Ctrl-C and run the same command
 * again: it continues the `.part` it left. The downloader resumes a `.part`
 * only from the same URL, so the embedded server listens on the port it had
 * in the last run, which `--dir` keeps in `DIR/.download-resumable-port`.
 */
import * as ResilientClient from "@httpkit/client/ResilientClient"
import * as Downloader from "@httpkit/downloader/Downloader"
import * as Progress from "@httpkit/downloader/Progress"
import * as Content from "@httpkit/testing/Content"
import { Console, Effect, Layer } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { check, runMain } from "./support/outcome.ts"
import { progressLine } from "./support/progressLine.ts"
import { serverFlags, serverHelp, serverUrl } from "./support/server.ts"

const usage = `Usage: npm run example -- download-resumable [--url URL] [--dir DIR]

24 MiB cut every 4 MiB: each break continued, sha256 verified; with --dir, a run stopped with Ctrl-C is resumed
by the next.

  --dir DIR     keep the file in DIR, so that a run stopped with Ctrl-C is resumed by the next run with the same
                --dir (the embedded server's port is kept in DIR too: the URL must not change)
                (default: a temporary folder, removed when the run ends or is stopped: nothing to resume)
${serverHelp}`
const flags = serverFlags(usage, { dir: { type: "string" } })

const size = 24 * 1024 * 1024
const seed = 2026

const folder = Effect.gen(function*() {
  if (flags.dir !== undefined) {
    const dir = Path.resolve(flags.dir)
    yield* Effect.promise(() => Fs.mkdir(dir, { recursive: true }))
    return dir
  }
  return yield* Effect.acquireRelease(
    Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "httpkit-example-"))),
    (dir) => Effect.promise(() => Fs.rm(dir, { recursive: true, force: true }))
  )
})

const main = Effect.gen(function*() {
  // A given --url is checked before any folder is made: an unreachable server exits at once, leaving nothing behind.
  const given = flags.url === undefined ? undefined : yield* serverUrl(flags.url)
  const dir = yield* folder
  const baseUrl = given ?? (yield* serverUrl(undefined, {
    portFile: flags.dir === undefined ? undefined : Path.join(dir, ".download-resumable-port")
  }))
  const downloader = yield* Downloader.Downloader
  const line = progressLine()
  const url = `${baseUrl}/files/dataset.bin?size=${size}&seed=${seed}&rate=${16 * 1024 * 1024}&drop_after=${
    4 * 1024 * 1024
  }`
  const result = yield* downloader.download(url, Path.join(dir, "dataset.bin"), {
    checksum: `sha256:${Content.digest(seed, 0, size)}`,
    ifExists: "overwrite",
    onProgress: (progress) => line.update(Progress.format(progress))
  })
  line.end()
  yield* Console.log(
    `${result.path}: ${Progress.formatBytes(result.bytes)}, sha256 verified: ${result.verified}, ` +
      `broken bodies continued: ${result.continuations}, resumed from an earlier run: ${result.resumed}`
  )
  yield* check(result.verified && result.bytes === size, `${size} bytes, sha256 verified`)
})

const Live = Downloader.layer().pipe(
  Layer.provide(ResilientClient.layer({ retry: { minDelay: 50, maxDelay: 500 }, timeout: { idle: "10 seconds" } }))
)

runMain(main.pipe(Effect.provide(Live), Effect.scoped))
