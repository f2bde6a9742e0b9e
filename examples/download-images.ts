/**
 * A parallel download of many small files (an image collection): 60 files
 * from two hosts, 8 at a time and at most 3 per host, each verified; the
 * aggregate progress (files and bytes) on one line.
 *
 * Run it with `npm run example -- download-images` (starts the server embedded),
 * or `npm run example -- download-images --url http://127.0.0.1:PORT`.
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

const usage = `Usage: npm run example -- download-images [--url URL]

60 small files from two hosts, 8 at once and at most 3 per host, each verified.

${serverHelp}`
const flags = serverFlags(usage)

/** The per-host limit's key: host and port. */
const host = (task: { readonly url: string }) => new URL(task.url).host

const main = Effect.gen(function*() {
  const baseUrl = yield* serverUrl(flags.url)
  // The same server under two names: two hosts as far as the per-host limit is concerned.
  const hosts = [baseUrl, baseUrl.replace("127.0.0.1", "localhost")]
  const dir = yield* Effect.acquireRelease(
    Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "httpkit-images-"))),
    (dir) => Effect.promise(() => Fs.rm(dir, { recursive: true, force: true }))
  )
  const tasks = Array.from({ length: 60 }, (_, i) => {
    const size = 20_000 + ((i * 7919) % 180_000)
    return {
      id: `image-${i}`,
      url: `${hosts[i % 2]}/files/image-${i}.jpg?size=${size}&seed=${i}&rate=4000000`,
      destination: `${dir}/`,
      checksum: `sha256:${Content.digest(i, 0, size)}`
    }
  })
  const downloader = yield* Downloader.Downloader
  const progress = progressLine()
  const running = new Map<string, number>()
  let mostPerHost = 0
  const batch = yield* downloader.downloadAll(tasks, {
    concurrency: 8,
    perHostConcurrency: 3,
    onStart: (task) => {
      running.set(host(task), (running.get(host(task)) ?? 0) + 1)
      mostPerHost = Math.max(mostPerHost, running.get(host(task))!)
    },
    onSuccess: (task) => running.set(host(task), running.get(host(task))! - 1),
    onError: (task) => running.set(host(task), running.get(host(task))! - 1),
    onProgress: (p) => progress.update(`${p.succeeded + p.failed}/${p.files} files, ${Progress.formatBytes(p.bytes)}`)
  })
  progress.end()
  yield* Console.log(
    `${batch.succeeded.length} of ${tasks.length} files verified in ${(batch.durationMillis / 1000).toFixed(1)} s, ` +
      `at most ${mostPerHost} at once per host`
  )
  yield* check(batch.failed.length === 0 && mostPerHost <= 3, "60 files verified, at most 3 at once per host")
})

const Live = Downloader.layer().pipe(Layer.provide(ResilientClient.layer()))

runMain(main.pipe(Effect.provide(Live), Effect.scoped))
