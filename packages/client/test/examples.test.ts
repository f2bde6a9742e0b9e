/**
 * Runs every command of the examples table of `packages/client/README.md`,
 * and the demo's row of the root README's, exactly as written there:
 * `npm run example -- <name> [flags]`, which npm runs as the root
 * `package.json`'s `example` script, `node scripts/bootstrap.mjs example`,
 * followed by the flags (`test/commandLines.test.ts` of `@httpkit/testing`
 * checks that script). Each starts its embedded fault-injection server and
 * must exit 0 and print the line that shows its point. A README row without
 * an expected line here, or an expected line whose row is gone, fails.
 */
import { assert, describe, it } from "@effect/vitest"
import * as DocumentedCommands from "@httpkit/testing/DocumentedCommands"
import * as NodeChild from "@httpkit/testing/NodeChild"
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
    "client-from-env with a misspelt and a bad variable: a warning naming the closest setting, then the error on one line, exit 1",
    async () => {
      const run = await NodeChild.run(["scripts/bootstrap.mjs", "example", "client-from-env"], {
        cwd: root,
        dropEnv: ["HTTPKIT_*"],
        env: { HTTPKIT_TIMEOUT_CONNECT: "soon", HTTPKIT_RETRY_MAX_ATEMPTS: "3" },
        timeoutMillis: 30_000
      })
      const output = `exit ${run.code ?? run.signal}\n--- stdout\n${run.stdout}--- stderr\n${run.stderr}`
      assert.strictEqual(run.code, 1, output)
      assert.include(run.stdout, "did you mean HTTPKIT_RETRY_MAX_ATTEMPTS?", output)
      assert.match(
        run.stderr,
        /^ClientConfigError: invalid client configuration: HTTPKIT_TIMEOUT_CONNECT is "soon", expected a duration such as 250ms, 20s/m,
        output
      )
      assert.notMatch(run.stderr, /^\s+at /m, output)
      assert.notMatch(run.stdout, /^done$/m, output)
    },
    40_000
  )
})
