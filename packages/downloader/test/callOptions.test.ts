/**
 * Per-call options are checked as the layer's are, with the same Schema
 * fields, before any request or file change: a bad `ifExists` (`"skip"`,
 * `"Fail"`, `"never"`, `"skip_if_match"`) fails with `DownloadConfigError`
 * naming it, where it used to act as `"overwrite"` and replace the file; a
 * truthy `resume: "yes"` or `createFolders: "yes"` is refused, not taken as
 * true. The same holds for the options of `downloadAll`, `retryFailed`,
 * `downloadWithProgress` and `DownloadQueue.runWorkers`.
 */
import { assert, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import * as Downloader from "../src/Downloader.ts"
import * as DownloadQueue from "../src/DownloadQueue.ts"
import { assertContent, listing, setup } from "./support/setup.ts"

const precious = "precious local data"

const layerExpected = `"fail" | "overwrite" | "skip-if-match"`

it.live("a per-call ifExists of \"skip\", \"Fail\", \"never\" or \"skip_if_match\" fails with DownloadConfigError naming it, before any request: the existing file keeps its 19 bytes", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    for (const ifExists of ["skip", "Fail", "never", "skip_if_match"]) {
      const path = Path.join(folder, `${ifExists}.bin`)
      yield* Effect.promise(() => Fs.writeFile(path, precious))
      const error = yield* Effect.flip(
        downloader.download(server.urlFor("/files/e.bin?size=100"), path, { ifExists: ifExists as never })
      )
      assert.strictEqual(error._tag, "DownloadConfigError")
      assert.strictEqual(
        error.message,
        `invalid download options: ifExists is "${ifExists}", expected ${layerExpected}`
      )
      assert.deepStrictEqual(error._tag === "DownloadConfigError" ? error.problems : undefined, [
        { setting: "ifExists", received: `"${ifExists}"`, expected: layerExpected }
      ])
      assert.strictEqual(yield* Effect.promise(() => Fs.readFile(path, "utf8")), precious)
    }
    assert.deepStrictEqual(yield* server.requests, [])
    assert.deepStrictEqual(yield* listing(folder), ["Fail.bin", "never.bin", "skip.bin", "skip_if_match.bin"])
  }).pipe(Effect.scoped))

it.live("truthy flags that are not booleans (resume: \"yes\", createFolders: \"yes\", restartOnChange: 1, allowSymlinks: \"no\"), segments: 65, a header that is not a string and an onProgress that is not a function are all named at once, the header value not shown; no request, no folder made", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const path = Path.join(folder, "made", "f.bin")
    const error = yield* Effect.flip(downloader.download(server.urlFor("/files/f.bin?size=100"), path, {
      resume: "yes",
      createFolders: "yes",
      restartOnChange: 1,
      allowSymlinks: "no",
      segments: 65,
      headers: { "x-api-key": 12345 },
      onProgress: "print"
    } as never))
    assert.strictEqual(error._tag, "DownloadConfigError")
    const problems = error._tag === "DownloadConfigError" ? error.problems ?? [] : []
    assert.deepStrictEqual(problems.map((problem) => [problem.setting, problem.received]), [
      ["segments", "65"],
      ["resume", `"yes"`],
      ["restartOnChange", "1"],
      ["allowSymlinks", `"no"`],
      ["createFolders", `"yes"`],
      ["headers.x-api-key", undefined],
      ["onProgress", `"print"`]
    ])
    assert.include(error.message, "invalid download options: segments is 65, expected an integer from 1 to 64")
    assert.include(error.message, `resume is "yes", expected true or false`)
    assert.include(error.message, "onProgress is \"print\", expected a function")
    assert.notInclude(error.message, "12345")
    assert.deepStrictEqual(yield* server.requests, [])
    assert.deepStrictEqual(yield* listing(folder), [])
  }).pipe(Effect.scoped))

it.live("options given as undefined are not set, and valid ones pass: the download succeeds", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const path = Path.join(folder, "u.bin")
    const result = yield* downloader.download(server.urlFor("/files/u.bin?size=1000&seed=3"), path, {
      ifExists: undefined,
      resume: undefined,
      createFolders: false,
      restartOnChange: true,
      headers: { "x-trace": "1" }
    })
    assert.strictEqual(result.bytes, 1000)
    yield* assertContent(path, 3, 1000)
  }).pipe(Effect.scoped))

it.live("downloadWithProgress with ifExists: \"never\" fails its stream with DownloadConfigError, before any request", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const path = Path.join(folder, "w.bin")
    yield* Effect.promise(() => Fs.writeFile(path, precious))
    const error = yield* Effect.flip(Stream.runDrain(
      downloader.downloadWithProgress(server.urlFor("/files/w.bin?size=100"), path, { ifExists: "never" as never })
    ))
    assert.strictEqual(error._tag, "DownloadConfigError")
    assert.strictEqual(yield* Effect.promise(() => Fs.readFile(path, "utf8")), precious)
    assert.deepStrictEqual(yield* server.requests, [])
  }).pipe(Effect.scoped))

it.live("downloadAll and retryFailed with options.ifExists \"skip\" fail every task with DownloadConfigError naming options.ifExists, before any request: the files are kept", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const tasks = ["a.bin", "b.bin"].map((name) => ({
      url: server.urlFor(`/files/${name}?size=100`),
      destination: Path.join(folder, name)
    }))
    for (const task of tasks) yield* Effect.promise(() => Fs.writeFile(task.destination, precious))
    const options = { options: { ifExists: "skip" as never, resume: "yes" as never } }
    const batch = yield* downloader.downloadAll(tasks, options)
    assert.deepStrictEqual(batch.failed.map((failure) => failure.error.message), [
      `invalid batch options: options.resume is "yes", expected true or false; options.ifExists is "skip", expected ${layerExpected}`,
      `invalid batch options: options.resume is "yes", expected true or false; options.ifExists is "skip", expected ${layerExpected}`
    ])
    assert.strictEqual(batch.successRate, 0)
    const again = yield* downloader.retryFailed(batch, options)
    assert.deepStrictEqual(again.failed.map((failure) => failure.error._tag), [
      "DownloadConfigError",
      "DownloadConfigError"
    ])
    for (const task of tasks) {
      assert.strictEqual(yield* Effect.promise(() => Fs.readFile(task.destination, "utf8")), precious)
    }
    assert.deepStrictEqual(yield* server.requests, [])
  }).pipe(Effect.scoped))

it.live("runWorkers with options.ifExists \"never\" fails with DownloadConfigError naming options.ifExists, before a task is taken: the task stays queued, the file kept", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const queue = yield* DownloadQueue.DownloadQueue
    const destination = Path.join(folder, "q.bin")
    yield* Effect.promise(() => Fs.writeFile(destination, precious))
    yield* queue.offer({ id: "q", url: server.urlFor("/files/q.bin?size=100"), destination })
    const error = yield* queue.runWorkers({ until: "idle", options: { ifExists: "never" as never } }).pipe(
      Effect.provideService(Downloader.Downloader, downloader),
      Effect.flip
    )
    assert.strictEqual(error._tag, "DownloadConfigError")
    assert.strictEqual(
      error.message,
      `invalid worker options: options.ifExists is "never", expected ${layerExpected}`
    )
    assert.strictEqual(yield* queue.size, 1)
    assert.strictEqual(yield* Effect.promise(() => Fs.readFile(destination, "utf8")), precious)
    assert.deepStrictEqual(yield* server.requests, [])
  }).pipe(Effect.provide(DownloadQueue.layerMemory()), Effect.scoped))
