import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Schedule } from "effect"
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

  it("a child still running after timeoutMillis (300) is killed with SIGKILL; what it printed is kept", async () => {
    const run = await script(`console.log("started"); setInterval(() => {}, 1000)`, { timeoutMillis: 300 })
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
      const alive = (pid: number) => {
        try {
          process.kill(pid, 0)
          return true
        } catch {
          return false
        }
      }
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
