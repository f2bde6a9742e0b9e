/**
 * A trap we found in Effect 4.1's OTLP export, shown twice against the same
 * local receiver: Effect's own layer as we found it, and `OtlpExport` doing
 * the right thing. If an Effect upgrade fixes it, the first half fails, and
 * `OtlpExport.layerConfig` may lean on Effect's reading of the variables.
 */
import { assert, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Metric } from "effect"
import { FetchHttpClient } from "effect/http"
import { Otlp, OtlpExporter, OtlpSerialization } from "effect/observability"
import * as OtlpExport from "../src/OtlpExport.ts"
import * as Receiver from "./support/otlpReceiver.ts"

/** A metric, a log line and a span, then the layer's `Flusher.flush`: the paths the receiver got. */
const flushedPaths = (receiver: Receiver.Receiver) =>
  Effect.gen(function*() {
    yield* Metric.update(Metric.counter("trap_probe_total"), 1)
    yield* Effect.logInfo("trap probe")
    yield* Effect.void.pipe(Effect.withSpan("trap-span"))
    yield* (yield* OtlpExporter.Flusher).flush
    return receiver.received().map((entry) => entry.path).toSorted()
  })

/** Only the endpoint and a service name set, as a user following OpenTelemetry's documentation would. */
const environment = (receiver: Receiver.Receiver) =>
  ConfigProvider.fromEnv({
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: "trap" }
  })

it.live("with only OTEL_EXPORTER_OTLP_ENDPOINT set, Effect's Otlp.layerFromConfig exports nothing (it waits for OTEL_<SIGNAL>_EXPORTER=otlp, which OpenTelemetry makes the default); OtlpExport.layerConfig exports all three signals", () =>
  Effect.gen(function*() {
    const effects = yield* Receiver.make
    const effectsPaths = yield* flushedPaths(effects).pipe(
      Effect.provide(
        Otlp.layerFromConfig().pipe(
          Layer.provide(OtlpSerialization.layerJson),
          Layer.provide(FetchHttpClient.layer)
        )
      ),
      Effect.scoped,
      Effect.provideService(ConfigProvider.ConfigProvider, environment(effects))
    )
    assert.deepStrictEqual(effectsPaths, [])

    const ours = yield* Receiver.make
    const oursPaths = yield* flushedPaths(ours).pipe(
      Effect.provide(OtlpExport.layerConfig()),
      Effect.scoped,
      Effect.provideService(ConfigProvider.ConfigProvider, environment(ours))
    )
    assert.deepStrictEqual(oursPaths, ["/v1/logs", "/v1/metrics", "/v1/traces"])
  }).pipe(Effect.scoped))
