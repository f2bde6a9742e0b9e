import { assert, it } from "@effect/vitest"
import * as MetricsTest from "@httpkit/testing/MetricsTest"
import * as TracingTest from "@httpkit/testing/TracingTest"
import { Effect, Metric } from "effect"
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
