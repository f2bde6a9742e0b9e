/**
 * Child processes that print one JSON object per line (the queue examples'
 * workers and producer, the kill tests' downloader), watched line by line: the parent waits for a line
 * that matches, kills at a chosen line, and reads everything printed.
 *
 * A child still running when the scope closes is killed with SIGKILL, and
 * the scope waits for it to end.
 */
import { Effect, type Scope } from "effect"
import { type ChildProcessByStdio, spawn } from "node:child_process"
import type { Readable } from "node:stream"

/** One line a child printed, as JSON (a caller that knows its child's lines narrows the type). */
export type Line = Readonly<Record<string, unknown>>

/** How a child ended. */
export interface Ended {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

/** A running child. */
export interface Child<L = Line> {
  readonly pid: number | undefined
  /** Every JSON line so far, oldest first. */
  readonly lines: ReadonlyArray<L>
  /** Waits for the first line (from the start) that matches; fails when the child ends first, or after `timeoutMillis`. */
  readonly until: (what: string, match: (line: L) => boolean) => Effect.Effect<L, Error>
  readonly kill: (signal: NodeJS.Signals) => Effect.Effect<void>
  /** Waits for its end (its output all read), at most `timeoutMillis`. */
  readonly ended: Effect.Effect<Ended, Error>
  /** Its stderr and the stdout lines that were not JSON, for failure messages. */
  readonly diagnostics: () => string
}

/** Starts `node ...args`; the scope's end kills it if it still runs. */
export const start = <L = Line>(
  args: ReadonlyArray<string>,
  options: { readonly env?: Readonly<Record<string, string>>; readonly timeoutMillis?: number } = {}
): Effect.Effect<Child<L>, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync((): Child<L> => {
      const timeoutMillis = options.timeoutMillis ?? 120_000
      const child: ChildProcessByStdio<null, Readable, Readable> = spawn(process.execPath, [...args], {
        env: { ...process.env, ...options.env },
        stdio: ["ignore", "pipe", "pipe"]
      })
      const lines: Array<L> = []
      let other = ""
      let partial = ""
      let end: Ended | undefined
      const listeners = new Set<() => void>()
      // A listener that is done removes itself while the set is walked: `Set` iteration allows it.
      const changed = () => listeners.forEach((listener) => listener())
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        const parts = (partial + chunk).split("\n")
        partial = parts.pop()!
        for (const text of parts) {
          try {
            lines.push(JSON.parse(text) as L)
          } catch {
            other += `${text}\n`
          }
        }
        changed()
      })
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => (other += chunk))
      child.on("error", (error) => (other += `spawn error: ${String(error)}\n`))
      child.on("close", (code, signal) => {
        end = { code, signal }
        changed()
      })
      const diagnostics = () => `${other}${partial}`.slice(-4_000)
      /** Resolves when `check` gives a value; rejects when it throws, or after `timeoutMillis`. */
      const waitFor = <A>(what: string, check: () => A | undefined) =>
        Effect.tryPromise({
          try: () =>
            new Promise<A>((resolve, reject) => {
              const finish = (settle: () => void) => {
                clearTimeout(timer)
                listeners.delete(listener)
                settle()
              }
              const timer = setTimeout(
                () =>
                  finish(() =>
                    reject(new Error(`no ${what} within ${timeoutMillis} ms; child output: ${diagnostics()}`))
                  ),
                timeoutMillis
              )
              const listener = () => {
                try {
                  const value = check()
                  if (value !== undefined) finish(() => resolve(value))
                } catch (error) {
                  finish(() => reject(error))
                }
              }
              listeners.add(listener)
              listener()
            }),
          catch: (error) => error instanceof Error ? error : new Error(String(error))
        })
      return {
        pid: child.pid,
        lines,
        until: (what, match) =>
          waitFor(what, () => {
            const found = lines.find(match)
            if (found !== undefined) return found
            if (end !== undefined) {
              throw new Error(
                `the child ended (code ${end.code}, signal ${end.signal}) before ${what}; last line ${
                  JSON.stringify(lines.at(-1))
                }; child output: ${diagnostics()}`
              )
            }
            return undefined
          }),
        kill: (signal) =>
          Effect.sync(() => {
            if (end === undefined) child.kill(signal)
          }),
        ended: waitFor("exit", () => end),
        diagnostics
      }
    }),
    (child) => child.kill("SIGKILL").pipe(Effect.andThen(child.ended), Effect.ignore)
  )
