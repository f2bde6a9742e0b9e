/**
 * What the pollution tests share: running a child process over the names to
 * pollute (again after a crash, over the names it did not reach), and what
 * the test server saw of one name's requests, comparable with the baseline.
 */
import { NodeChild } from "@httpkit/testing"

/** A request as the test server recorded it. */
export interface Recorded {
  readonly method: string
  readonly path: string
  readonly query: string
  readonly headers: Readonly<Record<string, string>>
}

/** Headers that differ from one call to the next whatever happens: ids, trace context, the port in `host`. */
const volatileHeaders = new Set(["x-request-id", "b3", "traceparent", "host"])

/**
 * What the server saw of the requests marked `marker` (`?probe=`): sorted
 * (workers and segments run concurrently), the marker neutral, volatile
 * headers left out, every other header's value as `header` shows it.
 */
export const seen = (
  records: ReadonlyArray<Recorded>,
  marker: string,
  header: (name: string, value: string) => string = (_, value) => value
) =>
  records
    .filter((record) => new URLSearchParams(record.query).get("probe") === marker)
    .map((record) => {
      const headers: Record<string, string> = {}
      for (const [name, value] of Object.entries(record.headers)) {
        if (!volatileHeaders.has(name)) headers[name] = header(name, value)
      }
      return JSON.stringify({ method: record.method, path: record.path, query: record.query, headers })
        .replaceAll(marker, "MARKER")
    })
    .toSorted()

/** How to run a pollution child over some keys. */
export interface ChildRun<Outcome> {
  /** The child's script. */
  readonly script: string
  /** Its one argument, for the keys still to run. */
  readonly input: (keys: ReadonlyArray<string>) => unknown
  /** The prefix of the lines carrying one key's outcome (JSON after it). */
  readonly tag: string
  readonly timeoutMillis: number
  /** The outcome of a key the child crashed on. */
  readonly crashed: (key: string, stderr: string) => Outcome
}

/** Runs the child over `keys`; after a crash, again over the keys it did not reach. */
export const runOverKeys = async <Outcome>(run: ChildRun<Outcome>, keys: ReadonlyArray<string>) => {
  const outcomes: Array<Outcome> = []
  let stderr = ""
  let remaining = keys
  while (remaining.length > 0) {
    const { stderr: errors, stdout } = await NodeChild.run(
      [run.script, JSON.stringify(run.input(remaining))],
      { timeoutMillis: run.timeoutMillis, dropEnv: ["HTTPKIT_*"] }
    )
    stderr += errors
    const done = stdout.split("\n").filter((line) => line.startsWith(run.tag)).map((line) =>
      JSON.parse(line.slice(run.tag.length)) as Outcome
    )
    outcomes.push(...done)
    if (done.length >= remaining.length) break
    outcomes.push(run.crashed(remaining[done.length]!, errors.slice(-2_000)))
    remaining = remaining.slice(done.length + 1)
  }
  return { outcomes, stderr }
}
