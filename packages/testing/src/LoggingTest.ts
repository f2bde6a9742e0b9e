/**
 * Reading log lines in tests: a logger that keeps every line logged while an
 * effect runs, background fibers it starts included.
 *
 * ```ts
 * yield* LoggingTest.withLines((lines) =>
 *   Effect.gen(function*() {
 *     yield* program
 *     assert.isTrue(lines.some((line) => line.includes("store answers again")))
 *   })
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"

/**
 * How a kept line is written: `"message"`, the message alone (the parts of a
 * message of several joined by a space); `"logfmt"`, Effect's logfmt line
 * (level, fiber, annotations, spans and cause included).
 *
 * @category models
 * @since 0.1.0
 */
export type Format = "message" | "logfmt"

/**
 * A logger that keeps every line it is given in `lines`, and `layer`, which
 * installs it in place of the loggers there were.
 *
 * @category constructors
 * @since 0.1.0
 */
export const recordingLogger = (format: Format = "message") => {
  const lines: Array<string> = []
  const logger = format === "logfmt"
    ? Logger.map(Logger.formatLogFmt, (line) => {
      lines.push(line)
    })
    : Logger.make<unknown, void>(({ message }) => {
      lines.push(Array.isArray(message) ? message.map(String).join(" ") : String(message))
    })
  return { lines, logger, layer: Logger.layer([logger]) }
}

/**
 * Runs the effect `body` makes with a logger that keeps every line, read
 * through `lines` while it runs and after (a fresh list each time the effect
 * runs).
 *
 * @category combinators
 * @since 0.1.0
 */
export const withLines = <A, E, R>(
  body: (lines: ReadonlyArray<string>) => Effect.Effect<A, E, R>,
  format: Format = "message"
): Effect.Effect<A, E, R> =>
  Effect.suspend(() => {
    const recorder = recordingLogger(format)
    return body(recorder.lines).pipe(Effect.provide(recorder.layer))
  })
