/**
 * The command lines of every example (`examples/*.ts`) and every benchmark
 * (`bench/*.ts`), run as child processes: `--help` prints the usage and exits
 * 0; an unknown flag prints its name and the usage and exits 2; a bad number
 * for `--rounds` or `--concurrency` (where the usage lists it) is one line and
 * exit 2, never a stack trace. They all read their flags with the shared
 * `scripts/args.ts`. Also the way the READMEs run them: `npm run example --
 * <name> [flags]` and `npm run bench -- <name> [flags]`, the root
 * `package.json`'s scripts over `scripts/bootstrap.mjs`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFile } from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as NodeChild from "../src/NodeChild.ts"
import * as Ports from "../src/Ports.ts"
import * as RedisTest from "../src/RedisTest.ts"
import * as TestServer from "../src/TestServer.ts"

const root = fileURLToPath(new URL("../../../", import.meta.url))

/** The scripts of a folder: its `*.ts` files (helpers live in its `support/`). */
const scriptsIn = (folder: string): ReadonlyArray<string> =>
  Fs.readdirSync(Path.join(root, folder)).filter((file) => file.endsWith(".ts")).map((file) => `${folder}/${file}`)

const scripts = [...scriptsIn("examples"), ...scriptsIn("bench")]

/**
 * Runs `node script ...args` from the root, with a `REDIS_URL` that no check before the flags' reaches, and
 * Node's compile cache (each run loads Effect and the packages; the cache halves what that costs after the first).
 */
const run = (args: ReadonlyArray<string>) =>
  NodeChild.run(args, {
    cwd: root,
    env: { REDIS_URL: "redis://127.0.0.1:6379", NODE_COMPILE_CACHE: Path.join(root, ".tmp", "compile-cache") },
    timeoutMillis: 30_000
  })

/** What a run printed, for assertion messages. */
const shown = (result: NodeChild.Run) => `exit ${result.code ?? result.signal}\n${result.output}`

/** `f` over `items`, `limit` at a time (each run is a Node process loading Effect). */
const eachLimited = async <A>(items: ReadonlyArray<A>, limit: number, f: (item: A) => Promise<void>) => {
  let next = 0
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await f(items[next++]!)
  }))
}

describe("command lines of examples and benchmarks", () => {
  it("there are scripts to check", () => {
    assert.include(scripts, "examples/demo.ts")
    assert.include(scripts, "examples/download-worker.ts")
    assert.include(scripts, "bench/client.ts")
  })

  it("an example takes no argument but its flags: a stray one is refused with the usage, exit 2", async () => {
    const stray = await run(["examples/client-json-schema.ts", "stray"])
    assert.strictEqual(stray.code, 2, shown(stray))
    assert.match(stray.stderr, /^Unexpected argument 'stray'/, shown(stray))
    assert.include(stray.stderr, "\nUsage: npm run example -- client-json-schema", shown(stray))
  })

  it("every script: --help prints its usage and exits 0; an unknown flag prints it and the usage, exit 2", async () => {
    await eachLimited(scripts, 2, async (script) => {
      const help = await run([script, "--help"])
      assert.strictEqual(help.code, 0, `${script} --help: ${shown(help)}`)
      assert.match(help.stdout, /^Usage: /, `${script} --help: ${shown(help)}`)
      assert.include(help.stdout, "--help", `${script} --help: ${shown(help)}`)
      assert.strictEqual(help.stderr, "", `${script} --help: ${shown(help)}`)

      const unknown = await run([script, "--no-such-flag"])
      assert.strictEqual(unknown.code, 2, `${script} --no-such-flag: ${shown(unknown)}`)
      assert.match(unknown.stderr, /^Unknown option '--no-such-flag'/, `${script} --no-such-flag: ${shown(unknown)}`)
      assert.include(unknown.stderr, "\nUsage: ", `${script} --no-such-flag: ${shown(unknown)}`)
      assert.notMatch(unknown.stderr, /^\s+at /m, `${script} --no-such-flag: ${shown(unknown)}`)
      assert.strictEqual(unknown.stdout, "", `${script} --no-such-flag: ${shown(unknown)}`)

      // A bad number for a flag the usage lists: one line naming the flag and the value, exit 2.
      for (const [flag, value] of [["--rounds", "abc"], ["--concurrency", "0"]] as const) {
        if (!new RegExp(`^\\s+${flag} `, "m").test(help.stdout)) continue
        const bad = await run([script, flag, value])
        assert.strictEqual(bad.code, 2, `${script} ${flag} ${value}: ${shown(bad)}`)
        assert.strictEqual(bad.stderr, `${flag} must be a positive integer, got "${value}"\n`, shown(bad))
      }
    })
  }, 240_000)
})

it(
  "bench/rate-limiter.ts with Redis on a closed port: one line naming its URL without the password, exit 1",
  async () => {
    const port = await Ports.unusedPromise()
    const result = await NodeChild.run(["bench/rate-limiter.ts", "--rounds", "1"], {
      cwd: root,
      env: { REDIS_URL: `redis://:s3cret@127.0.0.1:${port}` },
      timeoutMillis: 30_000
    })
    assert.strictEqual(result.code, 1, shown(result))
    assert.strictEqual(result.stderr, `Redis was unreachable at redis://REDACTED@127.0.0.1:${port} (ECONNREFUSED)\n`)
    assert.notInclude(result.output, "s3cret")
  },
  40_000
)

it("bench/rate-limiter.ts with a REDIS_URL that does not parse: a bad command line, one line, exit 2", async () => {
  const result = await NodeChild.run(["bench/rate-limiter.ts", "--rounds", "1"], {
    cwd: root,
    env: { REDIS_URL: "redis://:s3cret@[bad" },
    timeoutMillis: 30_000
  })
  assert.strictEqual(result.code, 2, shown(result))
  assert.strictEqual(result.stderr, "the URL of Redis does not parse\n", shown(result))
}, 40_000)

describe("npm run example and npm run bench", () => {
  it("the root package.json runs them through scripts/bootstrap.mjs", () => {
    const { scripts: npmScripts } = JSON.parse(Fs.readFileSync(Path.join(root, "package.json"), "utf8")) as {
      readonly scripts: Readonly<Record<string, string>>
    }
    assert.strictEqual(npmScripts["example"], "node scripts/bootstrap.mjs example")
    assert.strictEqual(npmScripts["bench"], "node scripts/bootstrap.mjs bench")
  })

  it("npm run example -- <name> --help reaches the example with its flags", async () => {
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
      (resolve) => {
        const child = execFile(
          "npm",
          ["run", "--silent", "example", "--", "client-json-schema", "--help"],
          { cwd: root, timeout: 60_000 },
          (_error, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr })
        )
      }
    )
    assert.strictEqual(code, 0, `${stdout}${stderr}`)
    assert.match(stdout, /^Usage: npm run example -- client-json-schema \[--url URL\]$/m, `${stdout}${stderr}`)
  }, 70_000)

  it("an unknown name lists the examples and exits 2; --help lists them and exits 0; bench likewise", async () => {
    const examples = scriptsIn("examples").map((file) => Path.basename(file, ".ts"))
    const unknown = await NodeChild.run(["scripts/bootstrap.mjs", "example", "no-such-example"], { cwd: root })
    assert.strictEqual(unknown.code, 2, shown(unknown))
    assert.include(unknown.stderr, `unknown example "no-such-example"`)
    for (const name of examples) assert.include(unknown.stderr, name)

    const none = await NodeChild.run(["scripts/bootstrap.mjs", "example"], { cwd: root })
    assert.strictEqual(none.code, 2, shown(none))

    const list = await NodeChild.run(["scripts/bootstrap.mjs", "example", "--help"], { cwd: root })
    assert.strictEqual(list.code, 0, shown(list))
    for (const name of examples) assert.include(list.stdout, name)

    const bench = await NodeChild.run(["scripts/bootstrap.mjs", "bench", "client-pipeline", "--help"], { cwd: root })
    assert.strictEqual(bench.code, 0, shown(bench))
    assert.match(bench.stdout, /^Usage: npm run bench -- client-pipeline /m, shown(bench))

    const escape = await NodeChild.run(["scripts/bootstrap.mjs", "example", "../scripts/test.mjs"], { cwd: root })
    assert.strictEqual(escape.code, 2, shown(escape))
  }, 60_000)
})

describe("a typed failure of an example", () => {
  it(
    "is one line, error: <message>, exit 1, no stack: the demo against a server that accepts and never answers",
    async () => {
      const sockets = new Set<Net.Socket>()
      const hole = Net.createServer((socket) => {
        sockets.add(socket)
        socket.on("error", () => {})
      })
      await new Promise<void>((resolve) => hole.listen(0, "127.0.0.1", () => resolve()))
      try {
        const { port } = hole.address() as Net.AddressInfo
        const result = await run(["examples/demo.ts", "--url", `http://127.0.0.1:${port}`])
        assert.strictEqual(result.code, 1, shown(result))
        assert.match(
          result.stderr,
          /^error: [A-Z]+ \/\S+ failed: no answer from http:\/\/127\.0\.0\.1:\d+\/\S* within 10s\n$/,
          shown(result)
        )
        assert.notMatch(result.output, /^\s+at /m, shown(result))
      } finally {
        for (const socket of sockets) socket.destroy()
        await new Promise<void>((resolve) => hole.close(() => resolve()))
      }
    },
    60_000
  )
})

it("download-resumable with an unreachable --url exits 1 and leaves no temporary folder behind", async () => {
  const tmp = Fs.mkdtempSync(Path.join(Os.tmpdir(), "httpkit-tmpdir-"))
  try {
    const port = await Ports.unusedPromise()
    const result = await NodeChild.run(["examples/download-resumable.ts", "--url", `http://127.0.0.1:${port}`], {
      cwd: root,
      env: { TMPDIR: tmp, NODE_COMPILE_CACHE: Path.join(root, ".tmp", "compile-cache") },
      timeoutMillis: 30_000
    })
    assert.strictEqual(result.code, 1, shown(result))
    assert.match(result.stderr, /unreachable at http:\/\/127\.0\.0\.1:\d+/, shown(result))
    assert.deepStrictEqual(Fs.readdirSync(tmp), [], shown(result))
  } finally {
    Fs.rmSync(tmp, { recursive: true, force: true })
  }
}, 40_000)

await RedisTest.describeWithRedis("download-worker on Redis", () => {
  it.live(
    "a task into a folder that does not exist yet is downloaded: the worker creates the folder",
    () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make()
        const tmp = Fs.mkdtempSync(Path.join(Os.tmpdir(), "httpkit-worker-"))
        yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(tmp, { recursive: true, force: true })))
        const dest = Path.join(tmp, "not", "yet")
        const queue = `createfolders-${process.pid}-${Date.now()}`
        const redis = ["--redis", RedisTest.url, "--queue", queue]
        const offered = yield* Effect.promise(() =>
          run(["examples/download-producer.ts", ...redis, "--dest", dest, server.urlFor("/files/a.bin?size=1000")])
        )
        assert.strictEqual(offered.code, 0, shown(offered))
        const worked = yield* Effect.promise(() => run(["examples/download-worker.ts", ...redis, "--until", "idle"]))
        assert.strictEqual(worked.code, 0, shown(worked))
        assert.match(worked.stdout, /"event":"done"/, shown(worked))
        assert.strictEqual(Fs.statSync(Path.join(dest, "a.bin")).size, 1000, shown(worked))
      }).pipe(Effect.scoped),
    60_000
  )
})
