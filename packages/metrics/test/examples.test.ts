/**
 * Runs every command of the examples table of `packages/metrics/README.md`
 * exactly as written there: `npm run example -- <name> [flags]`, which npm
 * runs as the root `package.json`'s `example` script,
 * `node scripts/bootstrap.mjs example`, followed by the flags. Each starts
 * its embedded fault-injection server and must print the lines that prove
 * its point; a README row without expected lines here, or expected lines
 * whose row is gone, fails. Then `metrics-service`'s OTLP export (only where
 * a variable names a receiver), its flags, and a `--url` where nothing
 * answers.
 */
import { assert, describe, it } from "@effect/vitest"
import * as DocumentedCommands from "@httpkit/testing/DocumentedCommands"
import * as NodeChild from "@httpkit/testing/NodeChild"
import * as Ports from "@httpkit/testing/Ports"
import * as Http from "node:http"
import { join } from "node:path"

const root = join(import.meta.dirname, "..", "..", "..")

const example = "npm run example -- "

/** The `npm run example -- ...` commands in the first column of the README's tables. */
const commands = DocumentedCommands.inFile(join(root, "packages/metrics/README.md"), example)

/** Each command and the lines that prove its point. */
const expected: Readonly<Record<string, ReadonlyArray<RegExp>>> = {
  "npm run example -- metrics-service": [
    /^made 400 calls with 16 fibers: 352 succeeded, 48 failed$/m,
    /^scraped http:\/\/127\.0\.0\.1:\d+\/metrics: \d+ httpkit families, \d+ samples$/m,
    // The table, printed at exit: one row per host, 200 calls each, 20 of them 404s.
    /^client +host +calls +2xx +3xx +4xx +5xx +errors +p50 +p90 +p99 +max +retries +breaker$/m,
    /^service +127\.0\.0\.1:\d+ +200 +176 +0 +20 +0 +24 /m,
    /^service +localhost:\d+ +200 +176 +0 +20 +0 +24 /m,
    /^httpkit rate limiter$/m
  ]
}

it("every documented command has its expected lines, and every expected line its command", () => {
  assert.deepStrictEqual(commands.toSorted(), Object.keys(expected).toSorted())
})

for (const command of commands) {
  it(`${command}: the lines that prove its point, exit 0`, async () => {
    const run = await NodeChild.run(
      ["scripts/bootstrap.mjs", "example", ...DocumentedCommands.argumentsOf(command, example)],
      { cwd: root, timeoutMillis: 90_000 }
    )
    assert.strictEqual(run.code, 0, run.output)
    for (const line of expected[command] ?? []) assert.match(run.output, line, run.output)
  }, 100_000)
}

/** An OTLP receiver on `port` (0: any free one) recording the paths of what `metrics-service` sent it. */
const receiver = (port: number) =>
  new Promise<
    { readonly port: number; readonly paths: Array<string>; readonly close: () => Promise<void> } | undefined
  >(
    (resolve) => {
      const paths: Array<string> = []
      const server = Http.createServer((request, response) => {
        let body = ""
        request.setEncoding("latin1").on("data", (chunk: string) => (body += chunk)).on("end", () => {
          // Only this example's exports (another test of the machine may export elsewhere to the same port).
          if (body.includes("metrics-service-example")) paths.push(request.url ?? "")
          response.writeHead(200, { "content-type": "application/json" }).end("{}")
        })
      })
      server.once("error", () => resolve(undefined))
      server.listen(port, () =>
        resolve({
          port: (server.address() as { port: number }).port,
          paths,
          close: () => new Promise<void>((done) => server.close(() => done()))
        }))
    }
  )

/** `metrics-service` with a light load, its OTEL_* variables only those in `env`. */
const runService = (env: Readonly<Record<string, string>> = {}, args: ReadonlyArray<string> = []) =>
  NodeChild.run(["examples/metrics-service.ts", "--calls", "40", ...args], {
    cwd: root,
    dropEnv: ["OTEL_*"],
    env,
    timeoutMillis: 60_000
  })

describe("metrics-service's OTLP export", () => {
  it(
    "with no OTEL_EXPORTER_OTLP_*ENDPOINT, nothing is sent, not even to the default receiver, and no warning",
    async () => {
      // The default receiver, http://localhost:4318, recording what reaches it (when this machine lets us listen there).
      const fallback = await receiver(4318)
      try {
        const run = await runService()
        assert.strictEqual(run.code, 0, run.output)
        // `:4318` as a port of its own: the example's random ports (43183, say) must not match.
        assert.notMatch(run.output, /WARN|otlp|:4318(?!\d)/i, run.output)
        if (fallback !== undefined) assert.deepStrictEqual(fallback.paths, [], run.output)
      } finally {
        await fallback?.close()
      }
    },
    70_000
  )

  it("OTEL_EXPORTER_OTLP_ENDPOINT naming a receiver: it gets /v1/metrics", async () => {
    const collector = (await receiver(0))!
    try {
      const run = await runService({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector.port}` })
      assert.strictEqual(run.code, 0, run.output)
      assert.include(collector.paths, "/v1/metrics", run.output)
    } finally {
      await collector.close()
    }
  }, 70_000)

  it("only OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: metrics go there, the other signals nowhere", async () => {
    const collector = (await receiver(0))!
    const fallback = await receiver(4318)
    try {
      const run = await runService({ OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `http://127.0.0.1:${collector.port}/m` })
      assert.strictEqual(run.code, 0, run.output)
      assert.deepStrictEqual([...new Set(collector.paths)], ["/m"], run.output)
      if (fallback !== undefined) assert.deepStrictEqual(fallback.paths, [], run.output)
      assert.notMatch(run.output, /WARN/, run.output)
    } finally {
      await collector.close()
      await fallback?.close()
    }
  }, 70_000)
})

describe("metrics-service's command line", () => {
  it("a port out of 0-65535, or a number not in plain decimal digits, is one line and exit 2", async () => {
    const bad = [
      [["--port", "99999"], "--port must be a port, 0 to 65535, got \"99999\"\n"],
      [["--port", "-1"], "--port must be a port, 0 to 65535, got \"-1\"\n"],
      [["--calls", "1e3"], "--calls must be a positive integer, got \"1e3\"\n"],
      [["--calls", "0x10"], "--calls must be a positive integer, got \"0x10\"\n"],
      [["--concurrency", "2.0"], "--concurrency must be a positive integer, got \"2.0\"\n"],
      [["--serve-seconds", "1e1"], "--serve-seconds must be a whole number (0 or more), got \"1e1\"\n"]
    ] as const
    for (const [args, message] of bad) {
      const run = await NodeChild.run(["examples/metrics-service.ts", ...args], { cwd: root })
      assert.strictEqual(run.code, 2, `${args.join(" ")}: ${run.output}`)
      assert.strictEqual(run.stderr, message, run.output)
    }
  }, 60_000)

  it("--url where nothing answers: one line naming it, exit 1", async () => {
    const port = await Ports.unusedPromise()
    const run = await runService({}, ["--url", `http://127.0.0.1:${port}`])
    assert.strictEqual(run.code, 1, run.output)
    assert.strictEqual(
      run.stderr,
      `the test server was unreachable at http://127.0.0.1:${port} (ECONNREFUSED); start it with npm run test-server\n`
    )
  }, 40_000)
})
