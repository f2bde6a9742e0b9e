/**
 * Reading spans in tests: a tracer that keeps every span it makes.
 *
 * ```ts
 * const { spans, tracer } = TracingTest.recordingTracer()
 * yield* program.pipe(Effect.withTracer(tracer))
 * assert.include(spans.map((span) => span.name), "Downloader.download")
 * ```
 *
 * @since 0.1.0
 */
import * as Tracer from "effect/Tracer"

/**
 * A tracer that keeps every span it makes (Effect's native spans), so a test
 * can read their names, attributes and ends.
 *
 * @category constructors
 * @since 0.1.0
 */
export const recordingTracer = () => {
  const spans: Array<Tracer.Span> = []
  const tracer = Tracer.make({
    span(options) {
      const span = Tracer.nativeTracer.span(options)
      spans.push(span)
      return span
    },
    context: Tracer.nativeTracer.context
  } as Tracer.Tracer)
  return { spans, tracer }
}
