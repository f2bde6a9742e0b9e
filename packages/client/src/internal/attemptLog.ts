/**
 * The attempt log: one structured line per attempt (request id, method,
 * redacted URL, status, attempt, duration, error tag) at the configured
 * level, or nothing. Whether a call logs is decided once per call from the
 * fiber's minimum level, so a disabled level costs nothing per attempt.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import type { Resolved } from "../ClientConfig.ts"
import { findFailure, Unauthorized } from "./outcome.ts"
import { own } from "./own.ts"

const levels = {
  trace: "Trace",
  debug: "Debug",
  info: "Info",
  warning: "Warn",
  error: "Error"
} as const

/** The Effect log level of a configured level, or undefined when attempts are not logged. */
export const levelOf = (logging: Resolved["logging"]): typeof levels[keyof typeof levels] | undefined =>
  logging.level === "none" ? undefined : levels[logging.level]

/** The fields of one attempt's line. */
export interface AttemptLine {
  readonly requestId: string
  readonly method: string
  readonly url: string
  readonly attempt: number
}

/** Writes attempt lines at the configured level (JSON lines when `logging.json`). */
export type AttemptLogger = (fields: Record<string, string | number>) => Effect.Effect<void>

/** The attempt logger of a client, or undefined when attempts are not logged. */
export const make = (logging: Resolved["logging"]): AttemptLogger | undefined => {
  const level = levelOf(logging)
  if (level === undefined) return undefined
  const log = Effect.logWithLevel(level)
  return (fields) => {
    const line = Effect.annotateLogs(log("http attempt"), fields)
    return logging.json
      ? Effect.flatMap(
        Effect.service(Logger.CurrentLoggers),
        (loggers) => Effect.provideService(line, Logger.CurrentLoggers, asJson(loggers))
      )
      : line
  }
}

/** Effect's console loggers: the ones `logging.json` replaces with `consoleJson`. */
const consoleLoggers: ReadonlySet<Logger.Logger<unknown, unknown>> = new Set([
  Logger.defaultLogger,
  Logger.consoleLogFmt,
  Logger.consoleStructured
])

/** Each set of loggers with its console loggers replaced by `consoleJson` (one per set the fiber holds). */
const jsonSets = new WeakMap<ReadonlySet<Logger.Logger<unknown, any>>, ReadonlySet<Logger.Logger<unknown, any>>>()

/**
 * `loggers` with the console loggers replaced by `consoleJson`, and every
 * other kept: an OTLP or file logger still gets the attempt lines.
 */
const asJson = (loggers: ReadonlySet<Logger.Logger<unknown, any>>): ReadonlySet<Logger.Logger<unknown, any>> => {
  const known = jsonSets.get(loggers)
  if (known !== undefined) return known
  const json = new Set([...loggers].filter((logger) => !consoleLoggers.has(logger)))
  json.add(Logger.consoleJson)
  jsonSets.set(loggers, json)
  return json
}

/** `attempt` with its log line: the outcome, the status when the failure has one, and how long it took. */
export const logged = <A, E, R>(
  logger: AttemptLogger,
  line: AttemptLine,
  attempt: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.flatMap(
    Clock.currentTimeMillis,
    (started) =>
      Effect.onExit(attempt, (exit) =>
        Effect.flatMap(Clock.currentTimeMillis, (ended) => {
          const failure = exit._tag === "Failure" ? findFailure(exit.cause) : undefined
          const error = (failure instanceof Unauthorized ? failure.error : failure) as
            | { readonly _tag?: string; readonly status?: unknown }
            | undefined
          // By own key: an error without a status (a connection's) shows none, whatever the prototype holds.
          const status = own(error, "status")
          return logger({
            request_id: line.requestId,
            method: line.method,
            url: line.url,
            attempt: line.attempt,
            duration_ms: ended - started,
            status: exit._tag === "Success"
              ? "ok"
              : typeof status === "number"
              ? status
              : "-",
            error: exit._tag === "Success" ? "-" : error?._tag ?? "interrupted"
          })
        }))
  )
