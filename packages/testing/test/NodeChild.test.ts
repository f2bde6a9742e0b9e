import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Schedule, Scope } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as NodeChild from "../src/NodeChild.ts"

/** `node -e <code>`: a script without a file. */
const script = (code: string, options?: NodeChild.Options) => NodeChild.run(["-e", code], options)

describe("NodeChild.run", () => {
  it("collects stdout, stderr and both interleaved, and the exit code 3", async () => {
    const run = await script(
      `process.stdout.write("out\\n"); setTimeout(() => { process.stderr.write("err\\n"); process.exit(3) }, 50)`
    )
    assert.deepStrictEqual([run.code, run.signal, run.stdout, run.stderr], [3, null, "out\n", "err\n"])
    assert.strictEqual(run.output, "out\nerr\n")
  })

  it("runs the Node that runs the tests, in cwd", async () => {
    const run = await script("console.log(process.execPath, process.cwd())", { cwd: "/" })
    assert.strictEqual(run.stdout, `${process.execPath} /\n`)
  })

  it("env sets variables over the parent's; dropEnv drops a name and a prefix ending in *", async () => {
    process.env.NODECHILD_TEST_KEPT = "kept"
    process.env.NODECHILD_TEST_DROPPED = "dropped"
    process.env.NODECHILD_PREFIX_A = "a"
    try {
      const run = await script(
        `console.log(JSON.stringify(Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith("NODECHILD_")))))`,
        { env: { NODECHILD_TEST_SET: "set" }, dropEnv: ["NODECHILD_TEST_DROPPED", "NODECHILD_PREFIX_*"] }
      )
      assert.deepStrictEqual(JSON.parse(run.stdout), { NODECHILD_TEST_KEPT: "kept", NODECHILD_TEST_SET: "set" })
    } finally {
      delete process.env.NODECHILD_TEST_KEPT
      delete process.env.NODECHILD_TEST_DROPPED
      delete process.env.NODECHILD_PREFIX_A
    }
  })

  // 4 s: a fresh `node` on a machine with both cores loaded can take over a second to print its first line.
  it("a child still running after timeoutMillis (4000) is killed with SIGKILL; what it printed is kept", async () => {
    const run = await script(`console.log("started"); setInterval(() => {}, 1000)`, { timeoutMillis: 4000 })
    assert.deepStrictEqual([run.code, run.signal, run.stdout], [null, "SIGKILL", "started\n"])
  })

  it.live("interrupting Effect.tryPromise with the signal kills the child", () =>
    Effect.gen(function*() {
      const folder = Fs.mkdtempSync(Path.join(Os.tmpdir(), "httpkit-nodechild-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(folder, { recursive: true, force: true })))
      const pidFile = Path.join(folder, "pid")
      const fiber = yield* Effect.forkChild(
        Effect.tryPromise((signal) =>
          script(
            `require("node:fs").writeFileSync(${
              JSON.stringify(pidFile)
            }, String(process.pid)); setInterval(() => {}, 1000)`,
            { signal }
          )
        )
      )
      const pid = yield* Effect.sync(() => Fs.existsSync(pidFile) ? Number(Fs.readFileSync(pidFile, "utf8")) : 0).pipe(
        Effect.repeat({ until: (pid) => pid > 0, schedule: Schedule.spaced("20 millis") }),
        Effect.timeout("20 seconds")
      )
      assert.isTrue(alive(pid))
      yield* Fiber.interrupt(fiber)
      const gone = yield* Effect.sync(() => !alive(pid)).pipe(
        Effect.repeat({ until: (gone) => gone, schedule: Schedule.spaced("20 millis") }),
        Effect.timeout("20 seconds")
      )
      assert.isTrue(gone)
    }))
})

/** Whether a process with this id still runs. */
const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe("NodeChild.start", () => {
  it.live("reads JSON lines as they come; other lines and stderr go to diagnostics; ended gives the exit code 0", () =>
    Effect.gen(function*() {
      const child = yield* NodeChild.start<{ readonly n: number }>([
        "-e",
        `console.log(JSON.stringify({ n: 1 })); console.log("not json"); console.error("on stderr");
         setTimeout(() => console.log(JSON.stringify({ n: 2 })), 100)`
      ])
      assert.deepStrictEqual(yield* child.until("n = 2", (line) => line.n === 2), { n: 2 })
      assert.deepStrictEqual(yield* child.ended, { code: 0, signal: null })
      assert.deepStrictEqual(child.lines, [{ n: 1 }, { n: 2 }])
      assert.include(child.diagnostics(), "not json\n")
      assert.include(child.diagnostics(), "on stderr\n")
    }))

  it.live("a last line without a trailing newline, printed just before the child exits, is a line too", () =>
    Effect.gen(function*() {
      const child = yield* NodeChild.start<Record<string, unknown>>([
        "-e",
        `process.stdout.write(JSON.stringify({ ready: 1 }) + "\\n" + JSON.stringify({ done: true }))`
      ])
      assert.deepStrictEqual(yield* child.until("done", (line) => line["done"] === true), { done: true })
      assert.deepStrictEqual(yield* child.ended, { code: 0, signal: null })
      assert.deepStrictEqual(child.lines, [{ ready: 1 }, { done: true }])
      assert.strictEqual(child.diagnostics(), "")
    }))

  it.live("until fails with NodeChildError naming the line when the child ends (code 4) without it", () =>
    Effect.gen(function*() {
      const child = yield* NodeChild.start(["-e", `console.log("{}"); process.exit(4)`])
      const error = yield* Effect.flip(child.until("the done line", (line) => line["event"] === "done"))
      assert.strictEqual(error._tag, "NodeChildError")
      assert.match(error.message, /^the child ended \(code 4, signal null\) before the done line; last line \{\}/)
    }))

  it.live("until fails after timeoutMillis (300) when no line matches; kill(SIGKILL) ends the child", () =>
    Effect.gen(function*() {
      const child = yield* NodeChild.start(["-e", `setInterval(() => {}, 1000)`], { timeoutMillis: 300 })
      const error = yield* Effect.flip(child.until("a line", () => true))
      assert.match(error.message, /^no a line within 300 ms/)
      yield* child.kill("SIGKILL")
      assert.deepStrictEqual(yield* Effect.timeout(child.ended, "20 seconds"), { code: null, signal: "SIGKILL" })
    }))

  it.live("stdin: true lets the parent talk: each line written comes back; end closes the input and the child exits", () =>
    Effect.gen(function*() {
      const child = yield* NodeChild.start<{ readonly echo: string }>([
        "-e",
        `require("node:readline").createInterface({ input: process.stdin })
           .on("line", (line) => console.log(JSON.stringify({ echo: line })))`
      ], { stdin: true })
      yield* child.write("one\n")
      assert.deepStrictEqual(yield* child.until("one", (line) => line.echo === "one"), { echo: "one" })
      yield* child.write("two\n", { end: true })
      assert.deepStrictEqual(yield* child.ended, { code: 0, signal: null })
      assert.deepStrictEqual(child.lines, [{ echo: "one" }, { echo: "two" }])
    }))

  it.live("parse reads lines that are not JSON: a child that prints ready", () =>
    Effect.gen(function*() {
      const child = yield* NodeChild.start(["-e", `console.log("ready"); console.log("ignored")`], {
        parse: (line) => line === "ready" ? "ready" : undefined
      })
      assert.strictEqual(yield* child.until("ready", (line) => line === "ready"), "ready")
      yield* child.ended
      assert.deepStrictEqual(child.lines, ["ready"])
      assert.strictEqual(child.diagnostics(), "ignored\n")
    }))

  it.live("env and dropEnv reach the child as with run", () =>
    Effect.gen(function*() {
      process.env.NODECHILD_START_DROPPED = "dropped"
      const child = yield* NodeChild.start<Record<string, string | undefined>>([
        "-e",
        `console.log(JSON.stringify({ set: process.env.NODECHILD_START_SET, dropped: process.env.NODECHILD_START_DROPPED ?? "none" }))`
      ], { env: { NODECHILD_START_SET: "set" }, dropEnv: ["NODECHILD_START_*"] }).pipe(
        Effect.ensuring(Effect.sync(() => delete process.env.NODECHILD_START_DROPPED))
      )
      yield* child.ended
      assert.deepStrictEqual(child.lines, [{ set: "set", dropped: "none" }])
    }))

  it.live("closing the scope kills a child that still runs, and waits for its end", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const child = yield* NodeChild.start(["-e", `console.log("{}"); setInterval(() => {}, 1000)`]).pipe(
        Scope.provide(scope)
      )
      yield* child.until("the first line", () => true)
      const pid = child.pid!
      assert.isTrue(alive(pid))
      yield* Scope.close(scope, Exit.void)
      assert.isFalse(alive(pid))
    }))
})
