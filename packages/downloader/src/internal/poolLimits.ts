/**
 * The two concurrencies of a batch or a queue's workers, read and checked:
 * a count that is not a whole number of at least 1 (`NaN` from a parsed
 * flag, `0`, `2.5`, a string) is a `DownloadConfigError` naming it, where
 * `Math.max(1, NaN)` used to give a semaphore without permits and a batch
 * that never ended.
 */
import * as ConfigProblem from "@httpkit/core/ConfigProblem"
import { DownloadConfigError } from "../DownloadConfig.ts"
import { own } from "./own.ts"

/** What a batch or a pool runs at once: in all, and per host (host and port). */
export interface PoolLimits {
  readonly concurrency: number
  readonly perHostConcurrency: number
}

/** The options both read, by their own keys. */
interface LimitOptions {
  readonly concurrency?: number | undefined
  readonly perHostConcurrency?: number | undefined
}

/** The concurrencies of options that set none. */
export const defaults: PoolLimits = { concurrency: 4, perHostConcurrency: 2 }

/** Reads `options`' concurrencies (absent: 4 and 2), or fails naming each bad one. */
export const read = (subject: string, options: LimitOptions): PoolLimits | DownloadConfigError => {
  const problems: Array<ConfigProblem.ConfigProblem> = []
  const count = (setting: keyof PoolLimits): number => {
    const value: unknown = own(options, setting)
    if (value === undefined) return defaults[setting]
    if (typeof value === "number" && Number.isSafeInteger(value) && value >= 1) return value
    problems.push({ setting, received: ConfigProblem.show(value), expected: "an integer of at least 1" })
    return defaults[setting]
  }
  const limits = { concurrency: count("concurrency"), perHostConcurrency: count("perHostConcurrency") }
  return problems.length === 0
    ? limits
    : new DownloadConfigError({ message: ConfigProblem.message(subject, problems), problems })
}
