/**
 * Runs every command of the examples table of `packages/downloader/README.md`
 * exactly as written there: `npm run example -- <name> [flags]`, which npm
 * runs as the root `package.json`'s `example` script,
 * `node scripts/bootstrap.mjs example`, followed by the flags
 * (`test/commandLines.test.ts` of `@httpkit/testing` checks that script).
 * Each must exit 0 and print the line that proves its point; a README row
 * without an expected line here, or an expected line whose row is gone,
 * fails. Then the queue examples' command lines: bad flags exit 2 and say
 * which, an unreachable Redis is one line naming it.
 */
import { assert, describe, it } from "@effect/vitest"
import * as DocumentedCommands from "@httpkit/testing/DocumentedCommands"
import * as NodeChild from "@httpkit/testing/NodeChild"
import * as Ports from "@httpkit/testing/Ports"
import * as RedisTest from "@httpkit/testing/RedisTest"
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

describe("download-worker and download-producer command lines", () => {
  it("--help prints the usage and exits 0; a bad argument exits 2 and says which", async () => {
    for (const name of ["download-worker", "download-producer"]) {
      const help = await NodeChild.run([join("examples", `${name}.ts`), "--help"], { cwd: root })
      assert.strictEqual(help.code, 0, help.output)
      assert.match(help.stdout, new RegExp(`^Usage: npm run example -- ${name} --redis URL`), help.output)
    }
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
      ["download-producer.ts", ["--redis", "localhost", "http://example.com/a"], /--redis must be a redis:\/\//]
    ] as const
    for (const [file, args, message] of bad) {
      const run = await NodeChild.run([join("examples", file), ...args], { cwd: root, dropEnv: ["REDIS_URL"] })
      assert.strictEqual(run.code, 2, `${file} ${args.join(" ")}: ${run.output}`)
      assert.match(run.stderr, message, run.output)
    }
  }, 100_000)

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
