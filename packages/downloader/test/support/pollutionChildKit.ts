/**
 * What the pollution children (`pollutionChild.ts`, `queuePollutionChild.ts`)
 * share: their input, a call's outcome as plain data, an object's own fields,
 * and the loop over the keys that prints one line per key. Imported before
 * any key is polluted, as everything here runs with the prototype polluted.
 */
import { Cause, Duration, Effect } from "effect"

// Node makes its stdio streams on first use: make them now, before any key is polluted.
const stdout = process.stdout
const stderr = process.stderr

/** The child's one argument, as JSON. */
export const input = <A>(): A => JSON.parse(process.argv[2]!) as A

/**
 * A call's result or its error's tag (with its OS code when `withCode`), given up after `seconds`.
 */
export const outcome = <A>(effect: Effect.Effect<A, unknown, never>, seconds: number, withCode: boolean) =>
  Effect.matchCause(Effect.timeout(effect, Duration.seconds(seconds)), {
    onSuccess: (value) => ({ ok: true, value: value as unknown }),
    onFailure: (cause) => {
      const squashed = Cause.squash(cause) as { readonly _tag?: unknown; readonly code?: unknown }
      const tag = typeof squashed?._tag === "string" ? squashed._tag : String(squashed)
      return { ok: false, error: withCode && typeof squashed?.code === "string" ? `${tag} ${squashed.code}` : tag }
    }
  })

/** An object's own fields, sorted, as one string. */
export const fields = (record: object): string => Object.keys(record).toSorted().join(",")

/** What `run` came to: its value, `{ hung: true }` after two minutes, or `{ threw }` with what it threw. */
export const settled = async (run: () => Promise<unknown>): Promise<unknown> => {
  try {
    return await Promise.race([
      run(),
      new Promise((resolve) => setTimeout(() => resolve({ hung: true }), 120_000).unref())
    ])
  } catch (error) {
    return { threw: String(error) }
  }
}

/**
 * Runs `body` for each key in turn and prints one line: `tag`, then as JSON the key, its marker (`prefix`, `_`
 * and the key with every character but letters and digits as `_`), how long it took and what `body` gave.
 */
export const forEachKey = async (
  keys: ReadonlyArray<string>,
  prefix: string,
  tag: string,
  body: (key: string, marker: string) => Promise<object>
) => {
  for (const key of keys) {
    const marker = `${prefix}_${key.replace(/[^A-Za-z0-9]/g, "_")}`
    stderr.write(`[child] start ${key}\n`)
    const started = Date.now()
    const result = await body(key, marker)
    stdout.write(`${tag}${JSON.stringify({ key, marker, elapsedMs: Date.now() - started, ...result })}\n`)
  }
}
