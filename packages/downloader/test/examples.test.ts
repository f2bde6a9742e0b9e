/**
 * Runs every command of the examples table of `packages/downloader/README.md`
 * exactly as written there: `npm run example -- <name> [flags]`, which npm
 * runs as the root `package.json`'s `example` script,
 * `node scripts/bootstrap.mjs example`, followed by the flags
 * (`test/commandLines.test.ts` of `@httpkit/testing` checks that script).
 * Each must exit 0 and print the line that proves its point; a README row
 * without an expected line here, or an expected line whose row is gone,
 * fails. Then `download-resumable --dir` stopped with SIGINT and run again
 * (resumed), an unreachable `--url` (one line), and the queue examples'
 * command lines: bad flags exit 2 and say which, an unreachable Redis or one
 * that refuses the credentials is one line naming it, `--lease 2s` is read
 * as people write it, and the producer's `--requeue` puts dead letters back.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Content from "@httpkit/testing/Content"
import * as DocumentedCommands from "@httpkit/testing/DocumentedCommands"
import * as NodeChild from "@httpkit/testing/NodeChild"
import * as Ports from "@httpkit/testing/Ports"
import * as RedisPrefix from "@httpkit/testing/RedisPrefix"
import * as RedisTest from "@httpkit/testing/RedisTest"
import * as TestServer from "@httpkit/testing/TestServer"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import { createHash, randomUUID } from "node:crypto"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import { join } from "node:path"

const root = join(import.meta.dirname, "..", "..", "..")

const example = "npm run example -- "

/** The `npm run example -- ...` commands in the first column of the README's tables. */
const commands = DocumentedCommands.inFile(join(root, "packages/downloader/README.md"), example)

/** Runs a documented command as npm does, killed after 90 s. */
const runDocumented = (command: string) =>
  NodeChild.run(["scripts/bootstrap.mjs", "example", ...DocumentedCommands.argumentsOf(command, example)], {
    cwd: root,
    dropEnv: ["HTTPKIT_*", "REDIS_URL"],
    timeoutMillis: 90_000
  })

/** Each command, whether it needs the Redis it names, and the lines (over stdout and stderr) that prove its point. */
const expected: Readonly<Record<string, { readonly redis: boolean; readonly lines: ReadonlyArray<RegExp> }>> = {
  // 24 MiB cut every 4 MiB arrives verified, every break continued.
  "npm run example -- download-resumable": {
    redis: false,
    lines: [/dataset\.bin: 24\.0 MiB, sha256 verified: true, broken bodies continued: 5,/]
  },
  // 60 files verified, at most 3 at once per host.
  "npm run example -- download-images": {
    redis: false,
    lines: [/^60 of 60 files verified in [\d.]+ s, at most [123] at once per host$/m]
  },
  // The first pass reports 5 typed failures, retryFailed recovers 3.
  "npm run example -- download-batch-retry": {
    redis: false,
    lines: [
      /^first pass: 5 succeeded, 5 failed$/m,
      /^after retryFailed: 8 succeeded, 2 failed$/m,
      /^ {2}file-3: NotFoundError$/m,
      /^ {2}file-4: ChecksumMismatchError$/m
    ]
  },
  // The queue's counts, as one JSON line.
  "npm run example -- download-producer --redis redis://127.0.0.1:6379 --queue readme --stats": {
    redis: true,
    lines: [/^\{"event":"stats","queue":"readme","queued":\d+,"delayed":\d+,"inFlight":\d+,"deadLetters":\d+\}$/m]
  },
  // A worker that starts, finds the queue empty and stops with its report.
  "npm run example -- download-worker --redis redis://127.0.0.1:6379 --queue readme --until idle": {
    redis: true,
    lines: [/^\{"event":"start",.*"queue":"readme"/m, /^\{"event":"stopped","report":\{/m]
  }
}

it("every documented command has its expected lines, and every expected line its command", () => {
  assert.deepStrictEqual(commands.toSorted(), Object.keys(expected).toSorted())
})

const assertDocumented = async (command: string) => {
  const run = await runDocumented(command)
  assert.strictEqual(run.code, 0, run.output)
  for (const line of expected[command]!.lines) assert.match(run.output, line, run.output)
}

for (const command of commands.filter((command) => expected[command]?.redis === false)) {
  it(`${command}`, () => assertDocumented(command), 100_000)
}

await RedisTest.describeWithRedis("the queue examples, on the Redis they name", () => {
  for (const command of commands.filter((command) => expected[command]?.redis === true)) {
    it.skipIf(RedisTest.url.replace(/\/$/, "") !== "redis://127.0.0.1:6379")(
      `${command}`,
      () => assertDocumented(command),
      100_000
    )
  }
})

/** The command of `download-resumable --dir dir`, as npm runs it. */
const resumable = (dir: string) => ["scripts/bootstrap.mjs", "example", "download-resumable", "--dir", dir]

/** The size of `file`, 0 when there is none. */
const sizeOf = (file: string) => Fs.statSync(file, { throwIfNoEntry: false })?.size ?? 0

describe("download-resumable --dir: stopped with Ctrl-C, resumed by the next run", () => {
  /** The example's file: 24 MiB of seed 2026. */
  const size = 24 * 1024 * 1024
  const digest = Content.digest(2026, 0, size)
  const temporary = Effect.acquireRelease(
    Effect.sync(() => Fs.mkdtempSync(join(Os.tmpdir(), "httpkit-resumable-test-"))),
    (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  )

  it.live(
    "SIGINT partway exits 130 and leaves the .part; the same command then resumes it to the right file",
    () =>
      Effect.gen(function*() {
        const dir = yield* temporary
        const part = join(dir, "dataset.bin.part")
        const first = yield* NodeChild.start(resumable(dir), {
          cwd: root,
          dropEnv: ["HTTPKIT_*"],
          parse: () => undefined,
          timeoutMillis: 90_000
        })
        // Stopped once 1 MiB is on disk: the server trickles 16 MiB/s, so well before the end even on a busy machine.
        const deadline = Date.now() + 90_000
        while (sizeOf(part) < 1024 * 1024 && Date.now() < deadline) yield* Effect.sleep("20 millis")
        assert.isAtLeast(sizeOf(part), 1024 * 1024, `no .part of 1 MiB within 90 s: ${first.diagnostics()}`)
        yield* first.kill("SIGINT")
        assert.deepStrictEqual(yield* first.ended, { code: 130, signal: null }, first.diagnostics())
        assert.isFalse(
          Fs.existsSync(join(dir, "dataset.bin")),
          `the first run finished before SIGINT: ${first.diagnostics()}`
        )
        const left = sizeOf(part)
        assert.isAbove(left, 0)
        assert.isBelow(left, size)
        const port = Fs.readFileSync(join(dir, ".download-resumable-port"), "utf8").trim()

        const second = yield* Effect.promise(() =>
          NodeChild.run(resumable(dir), { cwd: root, dropEnv: ["HTTPKIT_*"], timeoutMillis: 90_000 })
        )
        assert.strictEqual(second.code, 0, second.output)
        assert.include(second.stdout, `fault-injection server embedded at http://127.0.0.1:${port}\n`, second.output)
        assert.match(
          second.stdout,
          /24\.0 MiB, sha256 verified: true, .*resumed from an earlier run: true$/m,
          second.output
        )
        const file = Fs.readFileSync(join(dir, "dataset.bin"))
        assert.strictEqual(file.length, size)
        assert.strictEqual(createHash("sha256").update(file).digest("hex"), digest)
        assert.isFalse(Fs.existsSync(part))
      }).pipe(Effect.scoped),
    200_000
  )

  it.live(
    "a kept port that is taken: one line saying so, a new port kept, the file downloaded anew",
    () =>
      Effect.gen(function*() {
        const dir = yield* temporary
        const holder = yield* Effect.acquireRelease(
          Effect.promise(() =>
            new Promise<Net.Server>((resolve) => {
              const server = Net.createServer().listen(0, "127.0.0.1", () => resolve(server))
            })
          ),
          (server) => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())))
        )
        const taken = (holder.address() as Net.AddressInfo).port
        Fs.writeFileSync(join(dir, ".download-resumable-port"), `${taken}\n`)
        const run = yield* Effect.promise(() =>
          NodeChild.run(resumable(dir), { cwd: root, dropEnv: ["HTTPKIT_*"], timeoutMillis: 90_000 })
        )
        assert.strictEqual(run.code, 0, run.output)
        assert.include(
          run.stdout,
          `port ${taken} (kept in ${join(dir, ".download-resumable-port")}) is taken`,
          run.output
        )
        assert.match(run.stdout, /sha256 verified: true, .*resumed from an earlier run: false$/m, run.output)
        const kept = Number(Fs.readFileSync(join(dir, ".download-resumable-port"), "utf8"))
        assert.notStrictEqual(kept, taken)
        assert.include(run.stdout, `fault-injection server embedded at http://127.0.0.1:${kept}\n`, run.output)
      }).pipe(Effect.scoped),
    100_000
  )

  it("the usage says that only --dir keeps the file to resume", async () => {
    const help = await NodeChild.run(["examples/download-resumable.ts", "--help"], { cwd: root })
    assert.strictEqual(help.code, 0, help.output)
    assert.include(help.stdout, "removed when the run ends or is stopped: nothing to resume", help.output)
  })
})

it("with the test server down, --url is one line naming it, exit 1", async () => {
  const port = await Ports.unusedPromise()
  for (const name of ["download-resumable", "download-images", "download-batch-retry"]) {
    const run = await NodeChild.run([join("examples", `${name}.ts`), "--url", `http://127.0.0.1:${port}`], {
      cwd: root,
      timeoutMillis: 30_000
    })
    assert.strictEqual(run.code, 1, `${name}: ${run.output}`)
    assert.strictEqual(
      run.stderr,
      `the test server was unreachable at http://127.0.0.1:${port} (ECONNREFUSED); start it with npm run test-server\n`,
      `${name}: ${run.output}`
    )
  }
}, 60_000)

describe("download-worker and download-producer command lines", () => {
  it("--help prints the usage and exits 0; a bad argument exits 2 and says which", async () => {
    for (const name of ["download-worker", "download-producer"]) {
      const help = await NodeChild.run([join("examples", `${name}.ts`), "--help"], { cwd: root })
      assert.strictEqual(help.code, 0, help.output)
      assert.match(help.stdout, new RegExp(`^Usage: npm run example -- ${name} --redis URL`), help.output)
      if (name === "download-producer") {
        assert.include(help.stdout, "taken from the\n                  folder the command is run in", help.output)
      }
    }
    // A malformed REDIS_URL is a bad command line too, named as the variable.
    const fromEnv = await NodeChild.run(["examples/download-worker.ts"], {
      cwd: root,
      env: { REDIS_URL: "redis://[x" }
    })
    assert.strictEqual(fromEnv.code, 2, fromEnv.output)
    assert.match(fromEnv.stderr, /^REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/, fromEnv.output)
    const bad = [
      [
        "download-worker.ts",
        ["--redis", "redis://127.0.0.1:6379", "--concurrency", "zero"],
        /--concurrency must be a positive integer, got "zero"/
      ],
      [
        "download-worker.ts",
        ["--redis", "redis://127.0.0.1:6379", "--until", "later"],
        /--until must be "idle" or "shutdown"/
      ],
      ["download-worker.ts", ["--redis", "redis://127.0.0.1:6379", "--lease", "soon"], /--lease must be a duration/],
      ["download-worker.ts", ["--bogus"], /Unknown option '--bogus'/],
      ["download-producer.ts", ["--redis", "redis://127.0.0.1:6379"], /give at least one URL/],
      ["download-producer.ts", ["--redis", "redis://127.0.0.1:6379", "ftp://example.com/a"], /not an http\(s\) URL/],
      [
        "download-producer.ts",
        ["--redis", "redis://127.0.0.1:6379", "http://example.com/a#sha256=12"],
        /64 hex digits/
      ],
      ["download-producer.ts", ["--redis", "localhost", "http://example.com/a"], /--redis must be a redis:\/\//],
      [
        "download-producer.ts",
        ["--redis", "redis://[bad", "--stats"],
        /^--redis must be a redis:\/\/ or rediss:\/\/ URL such as redis:\/\/127\.0\.0\.1:6379; it does not parse\n$/
      ],
      ["download-worker.ts", ["--redis", "redis://[bad"], /^--redis must be a redis:\/\/ .*; it does not parse\n$/]
    ] as const
    for (const [file, args, message] of bad) {
      const run = await NodeChild.run([join("examples", file), ...args], { cwd: root, dropEnv: ["REDIS_URL"] })
      assert.strictEqual(run.code, 2, `${file} ${args.join(" ")}: ${run.output}`)
      assert.match(run.stderr, message, run.output)
    }
  }, 100_000)

  it("download-producer's default folder, downloads/ from the repository's root, is ignored by git", () => {
    // `git check-ignore` exits 1 (and execFileSync throws) for a path that is not ignored.
    assert.strictEqual(
      execFileSync("git", ["check-ignore", "downloads/a.bin"], { cwd: root, encoding: "utf8" }),
      "downloads/a.bin\n"
    )
  })

  it("an unreachable Redis is one line naming its URL, without the password, and exit 1", async () => {
    const port = await Ports.unusedPromise()
    const url = `redis://user:s3cret@127.0.0.1:${port}`
    for (
      const args of [
        ["examples/download-producer.ts", "--redis", url, "--stats"],
        ["examples/download-producer.ts", "--redis", url, "http://127.0.0.1:1/a.bin"],
        ["examples/download-worker.ts", "--redis", url, "--until", "idle"],
        ["examples/download-worker.ts", "--redis", url, "--rate", "5"]
      ]
    ) {
      const run = await NodeChild.run(args, { cwd: root, dropEnv: ["REDIS_URL"] })
      assert.strictEqual(run.code, 1, `${args.join(" ")}: ${run.output}`)
      assert.strictEqual(
        run.stderr,
        `Redis was unreachable at redis://REDACTED@127.0.0.1:${port} (ECONNREFUSED)\n`,
        run.output
      )
      assert.notInclude(run.output, "s3cret")
    }
  }, 60_000)
})

/** Runs `node ARGS` from the repository's root without `HTTPKIT_*` and `REDIS_URL`, killed after 60 s. */
const run = (args: ReadonlyArray<string>) =>
  Effect.promise(() => NodeChild.run(args, { cwd: root, dropEnv: ["HTTPKIT_*", "REDIS_URL"], timeoutMillis: 60_000 }))

/** The JSON lines of an example's output. */
const lines = (stdout: string) =>
  stdout.split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line) as Record<string, unknown>)

await RedisTest.describeWithRedis("download-worker and download-producer on Redis", () => {
  /** The tests' Redis as a user its ACL does not know, with a password. */
  const refusing = (() => {
    const url = new URL(RedisTest.url)
    url.username = "httpkit-nobody"
    url.password = "s3cret"
    return url.href
  })()
  const shown = `redis://REDACTED@${new URL(RedisTest.url).host}`

  it(
    "a Redis that refuses the credentials (a user its ACL does not know) is one line saying authentication failed, without the password, and exit 1",
    async () => {
      for (
        const args of [
          ["examples/download-producer.ts", "--redis", refusing, "--stats"],
          ["examples/download-producer.ts", "--redis", refusing, "http://127.0.0.1:1/a.bin"],
          ["examples/download-worker.ts", "--redis", refusing, "--until", "idle"],
          ["examples/download-worker.ts", "--redis", refusing, "--rate", "5"]
        ]
      ) {
        const run = await NodeChild.run(args, { cwd: root, dropEnv: ["REDIS_URL"], timeoutMillis: 30_000 })
        assert.strictEqual(run.code, 1, `${args.join(" ")}: ${run.output}`)
        // The redacted URL (Node may add the root's "/"), then what Redis said.
        const prefix = `Redis refused the credentials at ${shown}`
        assert.isTrue(run.stderr.startsWith(prefix), run.output)
        assert.match(run.stderr.slice(prefix.length), /^\/?: authentication failed \(WRONGPASS [^\n]*\)\n$/, run.output)
        assert.notInclude(run.output, "s3cret")
        assert.notInclude(run.output, "unreachable")
      }
    },
    100_000
  )

  it.live(
    "--lease takes a duration as people write it (2s: 2000 ms in the start line); 0 and a word exit 2",
    () =>
      Effect.gen(function*() {
        const queue = `lease-${randomUUID()}`
        yield* RedisPrefix.cleanupUnder(`httpkit:dq:${queue}`)
        const run = yield* Effect.promise(() =>
          NodeChild.run(
            [
              "examples/download-worker.ts",
              "--redis",
              RedisTest.url,
              "--queue",
              queue,
              "--until",
              "idle",
              "--lease",
              "2s"
            ],
            { cwd: root, dropEnv: ["HTTPKIT_*", "REDIS_URL"], timeoutMillis: 60_000 }
          )
        )
        assert.strictEqual(run.code, 0, run.output)
        assert.match(run.stdout, /^\{"event":"start",.*"leaseMillis":2000[,}]/m, run.output)
        for (const lease of ["0", "soon"]) {
          const refused = yield* Effect.promise(() =>
            NodeChild.run(["examples/download-worker.ts", "--redis", RedisTest.url, "--lease", lease], {
              cwd: root,
              dropEnv: ["REDIS_URL"]
            })
          )
          assert.strictEqual(refused.code, 2, refused.output)
          assert.match(refused.stderr, /^--lease must be a duration above 0 such as 30s/, refused.output)
        }
      }).pipe(Effect.scoped),
    100_000
  )

  it.live(
    "download-producer --requeue puts the queue's dead letters back (a 404 dead-lettered by a worker): requeued 1, then 1 queued and no dead letter",
    () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make()
        const queue = `requeue-${randomUUID()}`
        yield* RedisPrefix.cleanupUnder(`httpkit:dq:${queue}`)
        const dest = Fs.mkdtempSync(join(Os.tmpdir(), "httpkit-requeue-"))
        yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(dest, { recursive: true, force: true })))
        const redis = ["--redis", RedisTest.url, "--queue", queue]
        const offered = yield* run([
          "examples/download-producer.ts",
          ...redis,
          "--dest",
          dest,
          server.urlFor("/status/404")
        ])
        assert.strictEqual(offered.code, 0, offered.output)
        const worked = yield* run(["examples/download-worker.ts", ...redis, "--until", "idle"])
        assert.strictEqual(worked.code, 0, worked.output)
        const before = lines((yield* run(["examples/download-producer.ts", ...redis, "--stats"])).stdout)
        const dead = before.filter((line) => line.event === "dead")
        assert.strictEqual(dead.length, 1, JSON.stringify(before))
        const id = (dead[0]!.task as { readonly id: string }).id

        const unknown = yield* run(["examples/download-producer.ts", ...redis, "--requeue", "no-such-id"])
        assert.strictEqual(unknown.code, 0, unknown.output)
        assert.deepInclude(lines(unknown.stdout), { event: "requeued", queue, tasks: 0 })
        const requeued = yield* run(["examples/download-producer.ts", ...redis, "--requeue", id])
        assert.strictEqual(requeued.code, 0, requeued.output)
        const after = lines(requeued.stdout)
        assert.deepInclude(after, { event: "requeued", queue, tasks: 1 })
        assert.deepInclude(after, { event: "stats", queue, queued: 1, delayed: 0, inFlight: 0, deadLetters: 0 })
      }).pipe(Effect.scoped),
    200_000
  )
})
