/**
 * Runs a Node program (an example, a worker, a probe) in a child process
 * with the same Node that runs the tests, and collects what it printed:
 * for tests that prove a point across a process boundary.
 *
 * ```ts
 * const run = await NodeChild.run(["examples/download-images.ts"], { cwd: root })
 * assert.strictEqual(run.code, 0, run.output)
 *
 * // In an effect: interrupting it kills the child.
 * const run = yield* Effect.tryPromise((signal) => NodeChild.run(["worker.ts"], { signal }))
 * ```
 *
 * `start` is for a child watched while it runs, one JSON line at a time: wait
 * for a line, kill it at a chosen one, talk to it on its standard input.
 *
 * ```ts
 * const worker = yield* NodeChild.start<{ event: string }>(["worker.ts"])
 * yield* worker.until("the first download", (line) => line.event === "progress")
 * yield* worker.kill("SIGKILL")
 * assert.deepStrictEqual(yield* worker.ended, { code: null, signal: "SIGKILL" }, worker.diagnostics())
 * ```
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { type ChildProcessByStdio, spawn } from "node:child_process"
import type { Readable, Writable } from "node:stream"

/**
 * How a child ended, and what it printed.
 *
 * @category models
 * @since 0.1.0
 */
export interface Run {
  /** The exit code, or `null` when a signal ended it. */
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  /** Standard output and standard error, interleaved as they came. */
  readonly output: string
}

/**
 * Options of a run.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  readonly cwd?: string | undefined
  /** Variables set for the child, over the parent's environment. */
  readonly env?: Readonly<Record<string, string>> | undefined
  /** Parent variables not passed on: a name, or a prefix ending in `*` (`"HTTPKIT_*"`). */
  readonly dropEnv?: ReadonlyArray<string> | undefined
  /**
   * The child is killed with SIGKILL after this long.
   *
   * @default 60000
   */
  readonly timeoutMillis?: number | undefined
  /**
   * Kills the child with SIGKILL when aborted (the promise then rejects): pass
   * the signal `Effect.tryPromise` gives, so interrupting the effect ends the
   * child.
   */
  readonly signal?: AbortSignal | undefined
}

const dropped = (name: string, patterns: ReadonlyArray<string>): boolean =>
  patterns.some((pattern) => pattern.endsWith("*") ? name.startsWith(pattern.slice(0, -1)) : name === pattern)

/** The parent's environment without `dropEnv`, with `env` over it. */
const childEnv = (options: Pick<Options, "env" | "dropEnv">): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (!dropped(name, options.dropEnv ?? [])) env[name] = value
  }
  return Object.assign(env, options.env)
}

/**
 * Runs `node ...args` to its end.
 *
 * @category constructors
 * @since 0.1.0
 */
export const run = (args: ReadonlyArray<string>, options: Options = {}): Promise<Run> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...args], {
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      env: childEnv(options),
      stdio: ["ignore", "pipe", "pipe"],
      timeout: options.timeoutMillis ?? 60_000,
      killSignal: "SIGKILL",
      ...(options.signal === undefined ? {} : { signal: options.signal })
    })
    let stdout = ""
    let stderr = ""
    let output = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk
      output += chunk
    })
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk
      output += chunk
    })
    child.on("error", reject)
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr, output }))
  })

/**
 * One line a watched child printed, as JSON (a caller that knows its child's
 * lines narrows the type with `start<L>`).
 *
 * @category models
 * @since 0.1.0
 */
export type Line = Readonly<Record<string, unknown>>

/**
 * How a watched child ended.
 *
 * @category models
 * @since 0.1.0
 */
export interface Ended {
  /** The exit code, or `null` when a signal ended it. */
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

/**
 * A child started with `start`, read line by line while it runs.
 *
 * @category models
 * @since 0.1.0
 */
export interface Child<L = Line> {
  readonly pid: number | undefined
  /**
   * Every line so far that `parse` read (by default: every JSON line), oldest
   * first; a last line without a trailing newline joins once the child ended.
   */
  readonly lines: ReadonlyArray<L>
  /**
   * Waits for the first line, from the start, that matches; fails with
   * `NodeChildError` when the child ends first, or after `timeoutMillis`.
   * `what` names the line in that error.
   */
  readonly until: (what: string, match: (line: L) => boolean) => Effect.Effect<L, NodeChildError>
  /** Writes `text` to the child's standard input (`stdin: true`); `end: true` closes it after. */
  readonly write: (text: string, options?: { readonly end?: boolean | undefined }) => Effect.Effect<void>
  /** Sends `signal`, unless the child has already ended. */
  readonly kill: (signal: NodeJS.Signals) => Effect.Effect<void>
  /** Waits for its end, all its output read; fails with `NodeChildError` after `timeoutMillis`. */
  readonly ended: Effect.Effect<Ended, NodeChildError>
  /** Its standard error and the standard output lines `parse` did not read, the last 4,000 characters, for failure messages. */
  readonly diagnostics: () => string
}

/**
 * Options of `start`.
 *
 * @category models
 * @since 0.1.0
 */
export interface StartOptions<L> extends Pick<Options, "cwd" | "env" | "dropEnv"> {
  /**
   * The longest each `until` and `ended` waits.
   *
   * @default 120000
   */
  readonly timeoutMillis?: number | undefined
  /**
   * Gives the child a standard input pipe for `write` (otherwise it reads nothing).
   *
   * @default false
   */
  readonly stdin?: boolean | undefined
  /**
   * Reads one line of standard output into a value, or `undefined` for a line
   * that goes to `diagnostics` instead.
   *
   * @default a line that is JSON, parsed
   */
  readonly parse?: ((line: string) => L | undefined) | undefined
}

/**
 * A watched child failed to show what a test waited for: it ended first, or
 * the wait ran out.
 *
 * @category errors
 * @since 0.1.0
 */
export class NodeChildError extends Data.TaggedError("NodeChildError")<{ readonly message: string }> {}

const parseJson = <L>(line: string): L | undefined => {
  try {
    return JSON.parse(line) as L
  } catch {
    return undefined
  }
}

/**
 * Starts `node ...args` and reads its standard output line by line. A child
 * still running when the scope closes is killed with SIGKILL, and the scope
 * waits for its end.
 *
 * @category constructors
 * @since 0.1.0
 */
export const start = <L = Line>(
  args: ReadonlyArray<string>,
  options: StartOptions<L> = {}
): Effect.Effect<Child<L>, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync((): Child<L> => {
      const timeoutMillis = options.timeoutMillis ?? 120_000
      const parse = options.parse ?? parseJson<L>
      // Standard output and error are pipes; standard input is one only with `stdin: true`.
      const child = spawn(process.execPath, [...args], {
        ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
        env: childEnv(options),
        stdio: [options.stdin === true ? "pipe" : "ignore", "pipe", "pipe"]
      }) as ChildProcessByStdio<Writable | null, Readable, Readable>
      const lines: Array<L> = []
      let other = ""
      let partial = ""
      let end: Ended | undefined
      const listeners = new Set<() => void>()
      // A listener that is done removes itself while the set is walked: `Set` iteration allows it.
      const changed = () => listeners.forEach((listener) => listener())
      const take = (text: string) => {
        const line = parse(text)
        if (line === undefined) other += `${text}\n`
        else lines.push(line)
      }
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        const parts = (partial + chunk).split("\n")
        partial = parts.pop()!
        parts.forEach(take)
        changed()
      })
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => (other += chunk))
      child.stdin?.on("error", () => {})
      child.on("error", (error) => (other += `spawn error: ${String(error)}\n`))
      child.on("close", (code, signal) => {
        // Standard output is closed by now: a last line without a newline is a line too.
        if (partial !== "") take(partial)
        partial = ""
        end = { code, signal }
        changed()
      })
      const diagnostics = () => `${other}${partial}`.slice(-4_000)
      /** Succeeds when `check` gives a value; fails when it throws, or after `timeoutMillis`. */
      const waitFor = <A>(what: string, check: () => A | undefined) =>
        Effect.callback<A, NodeChildError>((resume) => {
          const finish = (outcome: Effect.Effect<A, NodeChildError>) => {
            clearTimeout(timer)
            listeners.delete(listener)
            resume(outcome)
          }
          const timer = setTimeout(
            () =>
              finish(Effect.fail(
                new NodeChildError({ message: `no ${what} within ${timeoutMillis} ms; child output: ${diagnostics()}` })
              )),
            timeoutMillis
          )
          const listener = () => {
            try {
              const value = check()
              if (value !== undefined) finish(Effect.succeed(value))
            } catch (error) {
              finish(
                Effect.fail(new NodeChildError({ message: error instanceof Error ? error.message : String(error) }))
              )
            }
          }
          listeners.add(listener)
          listener()
          return Effect.sync(() => {
            clearTimeout(timer)
            listeners.delete(listener)
          })
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
        write: (text, writeOptions = {}) =>
          Effect.sync(() => {
            if (child.stdin === null || child.stdin.destroyed) return
            if (writeOptions.end === true) child.stdin.end(text)
            else child.stdin.write(text)
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
