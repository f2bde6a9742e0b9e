/**
 * Runs every command of the examples table of `packages/client/README.md`,
 * and the demo's row of the root README's, exactly as written there:
 * `npm run example -- <name> [flags]`, which npm runs as the root
 * `package.json`'s `example` script, `node scripts/bootstrap.mjs example`,
 * followed by the flags (`test/commandLines.test.ts` of `@httpkit/testing`
 * checks that script). Each starts its embedded fault-injection server and
 * must exit 0 and print the line that shows its point. A README row without
 * an expected line here, or an expected line whose row is gone, fails. Then
 * the demo against a shared server (each claim checked, `unexpected: ...`
 * and exit 1 when one does not hold) and the examples with a `--url` where
 * nothing answers.
 */
import { assert, describe, it } from "@effect/vitest"
import * as DocumentedCommands from "@httpkit/testing/DocumentedCommands"
import * as NodeChild from "@httpkit/testing/NodeChild"
import * as Ports from "@httpkit/testing/Ports"
import * as ServerControl from "@httpkit/testing/ServerControl"
import * as TestServer from "@httpkit/testing/TestServer"
import { Effect } from "effect"
import { join } from "node:path"

const root = join(import.meta.dirname, "..", "..", "..")

const example = "npm run example -- "

/** The `npm run example -- ...` commands in the first column of a README's tables. */
const documented = (readme: string): ReadonlyArray<string> => DocumentedCommands.inFile(join(root, readme), example)

/** Each command and a line (a regular expression over its stdout) that shows it did what it says. */
const expected: Readonly<Record<string, RegExp>> = {
  "npm run example -- client-json-schema": /^GET \/status\/404 handled: NotFoundError \(status 404\)$/m,
  "npm run example -- client-from-env": /^GET \/echo sent with user-agent: httpkit-example\/1\.0$/m,
  "npm run example -- client-auth-refresh": /^3\. GET \/auth\/bearer: authenticated with token generation 2$/m,
  "npm run example -- client-retries-breaker":
    /^ {3}call 4: CircuitOpenError for http:\/\/127\.0\.0\.1:\d+, retry after \d+ ms$/m,
  "npm run example -- client-openai-chat": /^assistant: Echo: What does a circuit breaker do\?$/m,
  "npm run example -- client-anthropic-message": /^assistant: Echo: Name one reason to retry a request\.$/m,
  "npm run example -- client-cookie-session": /^3\. a new client loaded from the file sends: session$/m,
  "npm run example -- demo": /^ {3}1000 bytes, identical to bytes 1000-1999 of the file$/m
}

const commands = [
  ...documented("packages/client/README.md"),
  ...documented("README.md").filter((command) => command === "npm run example -- demo")
]

describe("examples, as the READMEs write them", () => {
  it("every documented command has its expected line, and every expected line its command", () => {
    assert.deepStrictEqual(commands.toSorted(), Object.keys(expected).toSorted())
  })

  for (const command of commands) {
    it(`${command}`, async () => {
      const flags = DocumentedCommands.argumentsOf(command, example)
      const run = await NodeChild.run(["scripts/bootstrap.mjs", "example", ...flags], {
        cwd: root,
        dropEnv: ["HTTPKIT_*"],
        timeoutMillis: 30_000
      })
      const output = `exit ${run.code ?? run.signal}\n--- stdout\n${run.stdout}--- stderr\n${run.stderr}`
      assert.strictEqual(run.code, 0, output)
      assert.match(run.stdout, expected[command]!, output)
      assert.match(run.stdout, /^done$/m, output)
    }, 40_000)
  }

  it(
    "client-from-env with a misspelt and a bad variable: a warning naming the closest setting, then the error on one line, exit 2",
    async () => {
      const run = await NodeChild.run(["scripts/bootstrap.mjs", "example", "client-from-env"], {
        cwd: root,
        dropEnv: ["HTTPKIT_*"],
        env: { HTTPKIT_TIMEOUT_CONNECT: "soon", HTTPKIT_RETRY_MAX_ATEMPTS: "3" },
        timeoutMillis: 30_000
      })
      const output = `exit ${run.code ?? run.signal}\n--- stdout\n${run.stdout}--- stderr\n${run.stderr}`
      assert.strictEqual(run.code, 2, output)
      assert.include(run.stdout, "did you mean HTTPKIT_RETRY_MAX_ATTEMPTS?", output)
      assert.match(
        run.stderr,
        /^error: invalid client configuration: HTTPKIT_TIMEOUT_CONNECT is "soon", expected a duration such as 250ms, 20s/m,
        output
      )
      assert.notMatch(run.stderr, /^\s+at /m, output)
      assert.notMatch(run.stdout, /^done$/m, output)
    },
    40_000
  )
})

/** The demo against `url`, as npm runs it. */
const demo = (url: string) =>
  Effect.promise(() =>
    NodeChild.run(["scripts/bootstrap.mjs", "example", "demo", "--url", url], {
      cwd: root,
      dropEnv: ["HTTPKIT_*"],
      timeoutMillis: 60_000
    })
  )

/** What a run printed, for assertion messages. */
const shown = (run: NodeChild.Run) =>
  `exit ${run.code ?? run.signal}\n--- stdout\n${run.stdout}--- stderr\n${run.stderr}`

describe("the demo against a server started separately (--url)", () => {
  it.live(
    "a claim that does not hold (another client took the injected 503s) is one line, unexpected: ..., exit 1",
    () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make()
        // Another client of /msg, without pause: during the demo's backoff (50 ms) it takes the second injected 503,
        // so the demo's GET succeeds at its 2nd attempt (or its 1st), not the 3rd it would claim.
        yield* Effect.promise(() => fetch(`${server.url}/msg`).then((response) => response.arrayBuffer())).pipe(
          Effect.forever,
          Effect.forkScoped
        )
        const run = yield* demo(server.url)
        assert.strictEqual(run.code, 1, shown(run))
        assert.match(
          run.stderr,
          /^unexpected: the server saw [12] attempts of the GET \(request ids: 1\), not 3 with one request id [^\n]*\n$/,
          shown(run)
        )
        assert.notMatch(run.stdout, /after \d+ attempts|^done$/m, shown(run))
      }).pipe(Effect.scoped),
    70_000
  )

  it.live(
    "three demos at once on one server: each prints only claims that held, or fails with one unexpected line",
    () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make()
        // Requests of another client on the routes the demo counts: not the demo's.
        const control = ServerControl.make(server.url)
        yield* Effect.promise(() => fetch(`${server.url}/status/503`, { method: "POST" }))
        const runs = yield* Effect.all([demo(server.url), demo(server.url), demo(server.url)], { concurrency: 3 })
        for (const run of runs) {
          if (run.code === 0) {
            assert.match(run.stdout, /^ {3}message \S+ after 3 attempts in \d+ ms$/m, shown(run))
            assert.match(run.stdout, /^ {3}the server saw 1 request id on all 3 attempts: [0-9a-f-]{36}$/m, shown(run))
            assert.match(
              run.stdout,
              /^ {3}POST without an idempotency key: ServiceUnavailableError after 1 attempt/m,
              shown(run)
            )
            assert.match(run.stdout, /^ {3}the server saw 3 requests: the open circuit refused the 4th/m, shown(run))
            assert.match(run.stdout, /^done$/m, shown(run))
          } else {
            assert.strictEqual(run.code, 1, shown(run))
            assert.match(run.stderr, /^unexpected: [^\n]+\n$/, shown(run))
          }
        }
        // Nothing reset the server: the other client's request is still in its log.
        assert.lengthOf(
          yield* control.requestsTo("/status/503", "POST").pipe(
            Effect.map((log) => log.filter((entry) => entry.query === ""))
          ),
          1
        )
      }).pipe(Effect.scoped),
    120_000
  )
})

it("with the test server down, --url is one line naming it, exit 1", async () => {
  const port = await Ports.unusedPromise()
  for (const name of ["demo", "client-json-schema", "client-from-env", "client-retries-breaker"]) {
    const run = await NodeChild.run([join("examples", `${name}.ts`), "--url", `http://127.0.0.1:${port}`], {
      cwd: root,
      dropEnv: ["HTTPKIT_*"],
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

it.live("client-from-env prints its base URL without the credentials in it", () =>
  Effect.gen(function*() {
    const server = yield* TestServer.make()
    const withCredentials = server.url.replace("http://", "http://u:pw-sekrit@")
    const run = yield* Effect.promise(() =>
      NodeChild.run(["scripts/bootstrap.mjs", "example", "client-from-env"], {
        cwd: root,
        dropEnv: ["HTTPKIT_*"],
        env: { HTTPKIT_BASE_URL: withCredentials },
        timeoutMillis: 30_000
      })
    )
    assert.strictEqual(run.code, 0, shown(run))
    assert.match(run.stdout, /^HTTPKIT_BASE_URL=http:\/\/REDACTED@127\.0\.0\.1:\d+ \(given\)$/m, shown(run))
    assert.match(run.stdout, /^ {2}baseUrl {12}http:\/\/REDACTED@127\.0\.0\.1:\d+$/m, shown(run))
    assert.notInclude(run.output, "pw-sekrit", shown(run))
  }).pipe(Effect.scoped), 40_000)
