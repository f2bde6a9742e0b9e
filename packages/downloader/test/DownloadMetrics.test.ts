import { assert, it } from "@effect/vitest"
import * as MetricBoundaries from "@httpkit/core/MetricBoundaries"
import * as Content from "@httpkit/testing/Content"
import * as MetricsTest from "@httpkit/testing/MetricsTest"
import * as TracingTest from "@httpkit/testing/TracingTest"
import { Effect, Metric } from "effect"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { expectedSha256, setup } from "./support/setup.ts"

it.live("downloads are counted by host and outcome, with bytes, continuations, segments and checksum failures", () =>
  Effect.gen(function*() {
    const metrics = MetricsTest.makeRegistry()
    const { downloader, folder, server } = yield* setup()
    const host = new URL(server.url).host
    const run = <A, E>(effect: Effect.Effect<A, E>) =>
      Effect.provideService(effect, Metric.MetricRegistry, metrics.registry)
    const size = 2 * 1024 * 1024
    yield* run(downloader.download(
      server.urlFor(`/files/a.bin?size=${size}&drop_after=1000000&drop_times=1`),
      Path.join(folder, "a.bin")
    ))
    yield* run(
      downloader.download(server.urlFor("/files/s.bin?size=8388608"), Path.join(folder, "s.bin"), { segments: 4 })
    )
    yield* run(Effect.flip(downloader.download(server.urlFor("/files/c.bin?size=1000"), Path.join(folder, "c.bin"), {
      checksum: `sha256:${expectedSha256(9, 1000)}`
    })))
    yield* run(Effect.flip(downloader.download(server.urlFor("/status/404"), Path.join(folder, "n.bin"))))

    assert.strictEqual(metrics.count("httpkit_download_files_total", { host, outcome: "success" }), 2)
    assert.strictEqual(metrics.count("httpkit_download_files_total", { host, outcome: "ChecksumMismatchError" }), 1)
    assert.strictEqual(metrics.count("httpkit_download_files_total", { host, outcome: "NotFoundError" }), 1)
    assert.strictEqual(metrics.count("httpkit_download_bytes_total", { host }), size + 8_388_608 + 1000)
    assert.strictEqual(metrics.count("httpkit_download_continuations_total", { host }), 1)
    assert.strictEqual(metrics.count("httpkit_download_segments_total", { host }), 1 + 4 + 1)
    assert.strictEqual(metrics.count("httpkit_download_checksum_failures_total", { host, algorithm: "sha256" }), 1)
    const duration = metrics.series("httpkit_download_duration_seconds", { host, outcome: "success" })
    assert.strictEqual((duration?.state as { count: number } | undefined)?.count, 2)
    // Attributes carry the host only: no path, query or user info.
    for (const entry of metrics.snapshot()) {
      for (const value of Object.values(entry.attributes ?? {})) assert.notInclude(String(value), "/files")
    }
  }).pipe(Effect.scoped))

it.live("a resumed part and a file changed mid-way: 1 resume, 1 restart, resumed bytes not counted, durations in the shared boundaries", () =>
  Effect.gen(function*() {
    const metrics = MetricsTest.makeRegistry()
    const { downloader, folder, server } = yield* setup()
    const host = new URL(server.url).host
    const run = <A, E>(effect: Effect.Effect<A, E>) =>
      Effect.provideService(effect, Metric.MetricRegistry, metrics.registry)
    // A part of 750,000 bytes left by an earlier run, with its sidecar.
    const size = 2_000_000
    const url = server.urlFor(`/files/r.bin?size=${size}&seed=4`)
    const path = Path.join(folder, "r.bin")
    yield* Effect.promise(async () => {
      await Fs.writeFile(`${path}.part`, Content.bytesAt(4, 0, 750_000))
      await Fs.writeFile(
        `${path}.part.json`,
        JSON.stringify({
          version: 1,
          url,
          size,
          etag: Content.entityTag({ name: "r.bin", size, seed: 4, encoding: "identity" }),
          segments: [{ start: 0, end: size, done: 750_000 }]
        })
      )
    })
    const resumed = yield* run(downloader.download(url, path))
    assert.isTrue(resumed.resumed)
    // The first GET drops after 1 MiB; the range asked next meets a new version, which arrives whole.
    const changing = 3 * 1024 * 1024
    const restarted = yield* run(downloader.download(
      server.urlFor(`/files/m.bin?size=${changing}&seed=20&mutate=1&drop_after=1048576&drop_times=1`),
      Path.join(folder, "m.bin")
    ))
    assert.strictEqual(restarted.restarts, 1)

    assert.strictEqual(metrics.count("httpkit_download_resumes_total", { host }), 1)
    assert.strictEqual(metrics.count("httpkit_download_restarts_total", { host }), 1)
    assert.strictEqual(metrics.count("httpkit_download_files_total", { host, outcome: "success" }), 2)
    assert.strictEqual(
      metrics.count("httpkit_download_bytes_total", { host }),
      resumed.bytesTransferred + restarted.bytesTransferred
    )
    assert.strictEqual(resumed.bytesTransferred, size - 750_000)
    const duration = metrics.series("httpkit_download_duration_seconds", { host, outcome: "success" })?.state as
      | { count: number; buckets: ReadonlyArray<readonly [number, number]> }
      | undefined
    assert.strictEqual(duration?.count, 2)
    assert.deepStrictEqual(duration?.buckets.map(([boundary]) => boundary), [...MetricBoundaries.seconds])
  }).pipe(Effect.scoped))

it.live("metrics: false records nothing", () =>
  Effect.gen(function*() {
    const metrics = MetricsTest.makeRegistry()
    const { downloader, folder, server } = yield* setup({ downloader: { metrics: false } })
    yield* Effect.provideService(
      downloader.download(server.urlFor("/files/q.bin?size=1000"), Path.join(folder, "q.bin")),
      Metric.MetricRegistry,
      metrics.registry
    )
    assert.strictEqual(metrics.snapshot().filter((entry) => entry.id.startsWith("httpkit_download")).length, 0)
  }).pipe(Effect.scoped))

it.live("each download is one span, Downloader.download, its URL redacted, with the client's request spans under it", () =>
  Effect.gen(function*() {
    const { spans, tracer } = TracingTest.recordingTracer()
    const { downloader, folder, server } = yield* setup()
    yield* downloader.download(server.urlFor("/files/t.bin?size=1000&api_key=SECRET9"), Path.join(folder, "t.bin"))
      .pipe(
        Effect.withTracer(tracer)
      )
    const download = spans.find((span) => span.name === "Downloader.download")
    assert.isDefined(download)
    assert.notInclude(JSON.stringify([...download!.attributes.entries()]), "SECRET9")
    assert.include(String(download!.attributes.get("url.full")), "/files/t.bin")
    const children = spans.filter((span) =>
      span.parent._tag === "Some" && span.parent.value.spanId === download!.spanId
    )
    assert.isAtLeast(children.length, 1)
  }).pipe(Effect.scoped))
