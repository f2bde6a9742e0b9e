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
 * @since 0.1.0
 */
import { spawn } from "node:child_process"

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

/**
 * Runs `node ...args` to its end.
 *
 * @category constructors
 * @since 0.1.0
 */
export const run = (args: ReadonlyArray<string>, options: Options = {}): Promise<Run> =>
  new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = {}
    for (const [name, value] of Object.entries(process.env)) {
      if (!dropped(name, options.dropEnv ?? [])) env[name] = value
    }
    Object.assign(env, options.env)
    const child = spawn(process.execPath, [...args], {
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      env,
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
