import { assert, it } from "@effect/vitest"
import { Effect, Logger, Schema } from "effect"
import * as Path from "node:path"
import { inspect } from "node:util"
import { BatchResult } from "../src/Batch.ts"
import { assertContent, expectedSha256, listing, setup } from "./support/setup.ts"

const hostOf = (task: { readonly url: string }) => new URL(task.url).hostname

it.live("downloadAll fetches 12 files over two hosts, 4 at a time and at most 2 per host, all verified, in task order", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const hosts = [server.url, server.url.replace("127.0.0.1", "localhost")]
    const tasks = Array.from({ length: 12 }, (_, i) => ({
      id: `file-${i}`,
      url: `${hosts[i % 2]}/files/f${i}.bin?size=300000&seed=${i}&rate=3000000`,
      destination: Path.join(folder, `f${i}.bin`),
      checksum: `sha256:${expectedSha256(i, 300_000)}`
    }))
    const progress: Array<number> = []
    const running = new Map<string, number>()
    let most = 0
    const mostPerHost = new Map<string, number>()
    const ended = (task: { readonly url: string }) => running.set(hostOf(task), running.get(hostOf(task))! - 1)
    const batch = yield* downloader.downloadAll(tasks, {
      concurrency: 4,
      perHostConcurrency: 2,
      onProgress: (p) => progress.push(p.bytes),
      onStart: (task) => {
        const host = hostOf(task)
        running.set(host, (running.get(host) ?? 0) + 1)
        mostPerHost.set(host, Math.max(mostPerHost.get(host) ?? 0, running.get(host)!))
        most = Math.max(most, [...running.values()].reduce((a, b) => a + b, 0))
      },
      onSuccess: ended,
      onError: ended
    })
    assert.strictEqual(batch.succeeded.length, 12)
    assert.strictEqual(batch.failed.length, 0)
    assert.strictEqual(batch.successRate, 1)
    assert.strictEqual(batch.bytes, 12 * 300_000)
    assert.deepStrictEqual(
      batch.succeeded.map((result) => Path.basename(result.path)),
      tasks.map((t) => Path.basename(t.destination))
    )
    for (const [i] of tasks.entries()) yield* assertContent(Path.join(folder, `f${i}.bin`), i, 300_000)
    assert.strictEqual(progress.at(-1), 12 * 300_000)
    // Never more than 2 files per host, 4 in all; and the limits were reached (the files overlap).
    assert.deepStrictEqual([...mostPerHost.entries()].toSorted(), [["127.0.0.1", 2], ["localhost", 2]])
    assert.strictEqual(most, 4)
  }).pipe(Effect.scoped))

it.live("a batch keeps going past failures: each failure is typed and in the result; retryFailed merges a second run", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup({ downloader: { maxStalls: 1 } })
    const tasks = [
      { url: server.urlFor("/files/ok.bin?size=1000&seed=1"), destination: Path.join(folder, "ok.bin") },
      { url: server.urlFor("/status/404"), destination: Path.join(folder, "missing.bin"), id: "missing" },
      {
        url: server.urlFor("/files/flaky.bin?size=200000&seed=2&drop_after=50000&drop_times=1"),
        destination: Path.join(folder, "flaky.bin")
      },
      {
        url: server.urlFor("/files/sum.bin?size=1000&seed=3"),
        destination: Path.join(folder, "sum.bin"),
        checksum: `sha256:${expectedSha256(4, 1000)}`
      }
    ]
    const errors: Array<string> = []
    const first = yield* downloader.downloadAll(tasks, { onError: (_, error) => errors.push(error._tag) })
    assert.strictEqual(first.succeeded.length, 1)
    assert.deepStrictEqual(first.failed.map((failure) => [failure.index, failure.error._tag]), [
      [1, "NotFoundError"],
      [2, "ConnectionError"],
      [3, "ChecksumMismatchError"]
    ])
    assert.strictEqual(first.failed[0]?.id, "missing")
    assert.deepStrictEqual(errors.toSorted(), ["ChecksumMismatchError", "ConnectionError", "NotFoundError"])
    assert.strictEqual(first.successRate, 0.25)

    const second = yield* downloader.retryFailed(first)
    assert.strictEqual(second.succeeded.length, 2)
    assert.deepStrictEqual(second.failed.map((failure) => [failure.index, failure.error._tag]), [
      [1, "NotFoundError"],
      [3, "ChecksumMismatchError"]
    ])
    assert.strictEqual(second.successRate, 0.5)
    yield* assertContent(Path.join(folder, "flaky.bin"), 2, 200_000)
    assert.deepStrictEqual(yield* listing(folder), ["flaky.bin", "ok.bin"])
  }).pipe(Effect.scoped))

it.live("a batch result holds failed URLs redacted (printed, inspected, encoded), and retryFailed still sends the URL as given", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const batch = yield* downloader.downloadAll([
      { url: server.urlFor("/status/404?access_token=s3cr3t"), destination: Path.join(folder, "x.bin") }
    ])
    assert.notInclude(JSON.stringify(batch), "s3cr3t")
    assert.notInclude(inspect(batch, { depth: 10 }), "s3cr3t")
    assert.notInclude(inspect(batch.failed[0], { depth: 10 }), "s3cr3t")
    const encoded = Schema.encodeSync(BatchResult)(batch)
    assert.notInclude(JSON.stringify(encoded), "s3cr3t")
    const decoded = Schema.decodeUnknownSync(BatchResult)(encoded)
    assert.strictEqual(decoded.failed[0]?.error._tag, "NotFoundError")
    const again = yield* downloader.retryFailed(batch)
    assert.strictEqual(again.failed.length, 1)
    assert.notInclude(inspect(again, { depth: 10 }), "s3cr3t")
    const sent = (yield* server.requestsTo("/status/404")).map((request) => request.query)
    assert.isTrue(sent.length >= 2 && sent.every((query) => query === "access_token=s3cr3t"), JSON.stringify(sent))
  }).pipe(Effect.scoped))

it.live("retryFailed verifies a checksum given as { algorithm, expected } again, also from a decoded result, and computes one given as { algorithm }", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup({ downloader: { maxStalls: 1 } })
    // Each file's first GET is cut after 50 kB: the first run fails both with ConnectionError.
    const url = (name: string, seed: number) =>
      server.urlFor(`/files/${name}?size=200000&seed=${seed}&drop_after=50000&drop_times=1`)
    const tasks = [
      {
        url: url("wrong.bin", 1),
        destination: Path.join(folder, "wrong.bin"),
        checksum: { algorithm: "sha256" as const, expected: "0".repeat(64) }
      },
      {
        url: url("computed.bin", 2),
        destination: Path.join(folder, "computed.bin"),
        checksum: { algorithm: "sha256" as const }
      }
    ]
    const first = yield* downloader.downloadAll(tasks)
    assert.deepStrictEqual(first.failed.map((failure) => [failure.error._tag, failure.checksum]), [
      ["ConnectionError", `sha256:${"0".repeat(64)}`],
      ["ConnectionError", { algorithm: "sha256" }]
    ])
    const decoded = Schema.decodeUnknownSync(BatchResult)(Schema.encodeSync(BatchResult)(first))
    for (const previous of [first, decoded]) {
      const again = yield* downloader.retryFailed(previous, { options: { ifExists: "overwrite" } })
      assert.deepStrictEqual(again.failed.map((failure) => failure.error._tag), ["ChecksumMismatchError"])
      assert.deepStrictEqual(again.succeeded.map((result) => result.checksum?.digest), [expectedSha256(2, 200_000)])
      assert.deepStrictEqual(yield* listing(folder), ["computed.bin"])
    }
  }).pipe(Effect.scoped))

it.live("concurrencies that are not whole numbers of at least 1 (NaN, 0, 2.5) fail every task with DownloadConfigError before any request; the batch ends", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const tasks = [
      { url: server.urlFor("/files/a.bin?size=1000"), destination: Path.join(folder, "a.bin") },
      { url: server.urlFor("/files/b.bin?size=1000"), destination: Path.join(folder, "b.bin") }
    ]
    const errors: Array<string> = []
    for (const options of [{ perHostConcurrency: Number.NaN }, { concurrency: 0 }, { concurrency: 2.5 }]) {
      const batch = yield* downloader.downloadAll(tasks, {
        ...options,
        onError: (_, error) => errors.push(error.message)
      })
      assert.deepStrictEqual(batch.failed.map((failure) => failure.error._tag), [
        "DownloadConfigError",
        "DownloadConfigError"
      ])
      assert.strictEqual(batch.successRate, 0)
    }
    assert.deepStrictEqual([...new Set(errors)], [
      "invalid batch options: perHostConcurrency is NaN, expected an integer of at least 1",
      "invalid batch options: concurrency is 0, expected an integer of at least 1",
      "invalid batch options: concurrency is 2.5, expected an integer of at least 1"
    ])
    assert.deepStrictEqual(yield* server.requests, [])
    assert.deepStrictEqual(yield* listing(folder), [])
  }).pipe(Effect.scoped))

it.live("a batch's progress never goes down: a file that fails after receiving bytes keeps them in the figure", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup({ downloader: { progressInterval: 20 } })
    const progress: Array<number> = []
    const batch = yield* downloader.downloadAll([
      { url: server.urlFor("/files/ok.bin?size=2000000&rate=4000000"), destination: Path.join(folder, "ok.bin") },
      // Every attempt of this one is cut 1000 bytes short, after most of the file arrived.
      {
        url: server.urlFor("/files/bad.bin?size=2000000&short_by=1000&rate=8000000"),
        destination: Path.join(folder, "bad.bin")
      }
    ], { concurrency: 2, onProgress: (p) => progress.push(p.bytes) })
    assert.deepStrictEqual(batch.failed.map((failure) => failure.index), [1])
    const lowered = progress.flatMap((bytes, i) =>
      i > 0 && bytes < progress[i - 1]! ? [`${progress[i - 1]}->${bytes}`] : []
    )
    assert.deepStrictEqual(lowered, [])
    assert.isAbove(progress.at(-1)!, 2_000_000)
    assert.strictEqual(batch.bytes, 2_000_000)
  }).pipe(Effect.scoped))

/** A callback that throws. */
const boom = () => {
  throw new TypeError("boom")
}

it.live("callbacks that throw (onStart, onProgress, onSuccess, onError) change nothing in the batch: every file in its place, one warning per callback", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const warnings: Array<unknown> = []
    const logger = Logger.make((options) => {
      if (options.logLevel === "Warn") warnings.push(options.message)
    })
    const batch = yield* downloader.downloadAll([
      { url: server.urlFor("/files/a.bin?size=100000&seed=1"), destination: Path.join(folder, "a.bin") },
      { url: server.urlFor("/files/b.bin?size=100000&seed=2"), destination: Path.join(folder, "b.bin") },
      { url: server.urlFor("/status/404"), destination: Path.join(folder, "c.bin") }
    ], { onStart: boom, onProgress: boom, onSuccess: boom, onError: boom }).pipe(
      Effect.provideService(Logger.CurrentLoggers, new Set([logger]))
    )
    assert.strictEqual(batch.succeeded.length, 2)
    assert.deepStrictEqual(batch.failed.map((failure) => failure.error._tag), ["NotFoundError"])
    yield* assertContent(Path.join(folder, "a.bin"), 1, 100_000)
    yield* assertContent(Path.join(folder, "b.bin"), 2, 100_000)
    assert.deepStrictEqual(
      warnings.flat().toSorted(),
      [
        "downloadAll: onError threw TypeError 1 time(s); the batch went on",
        "downloadAll: onStart threw TypeError 3 time(s); the batch went on",
        "downloadAll: onSuccess threw TypeError 2 time(s); the batch went on"
      ].concat(warnings.flat().filter((line) => String(line).includes("onProgress")) as Array<string>).toSorted()
    )
    assert.isTrue(warnings.flat().some((line) => String(line).startsWith("downloadAll: onProgress threw TypeError")))
  }).pipe(Effect.scoped))

it.live("an empty batch succeeds with rate 1 and nothing fetched", () =>
  Effect.gen(function*() {
    const { downloader } = yield* setup()
    const batch = yield* downloader.downloadAll([])
    assert.strictEqual(batch.successRate, 1)
    assert.strictEqual(batch.succeeded.length + batch.failed.length, 0)
  }).pipe(Effect.scoped))
