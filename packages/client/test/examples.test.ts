/**
 * Runs every `@httpkit/client` example under `examples/` as a real child
 * process (`node examples/<file>`, from the repository root), each with its
 * embedded fault-injection server, and checks that it exits 0 and printed the
 * line that shows its point.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeChild from "@httpkit/testing/NodeChild"
import { join } from "node:path"

const root = join(import.meta.dirname, "..", "..", "..")

/** Runs `node examples/<file>` with a clean `HTTPKIT_*` environment, killed after 30 s. */
const runExample = (file: string): Promise<NodeChild.Run> =>
  NodeChild.run([join("examples", file)], { cwd: root, dropEnv: ["HTTPKIT_*"], timeoutMillis: 30_000 })

/** Each example and a line (a regular expression over its stdout) that shows it did what it says. */
const examples: ReadonlyArray<readonly [file: string, expected: RegExp]> = [
  ["client-json-schema.ts", /^GET \/status\/404 handled: NotFoundError \(status 404\)$/m],
  ["client-from-env.ts", /^GET \/echo sent with user-agent: httpkit-example\/1\.0$/m],
  ["client-auth-refresh.ts", /^3\. GET \/auth\/bearer: authenticated with token generation 2$/m],
  ["client-retries-breaker.ts", /^ {3}call 4: CircuitOpenError for http:\/\/127\.0\.0\.1:\d+, retry after \d+ ms$/m],
  ["client-openai-chat.ts", /^assistant: Echo: What does a circuit breaker do\?$/m],
  ["client-anthropic-message.ts", /^assistant: Echo: Name one reason to retry a request\.$/m],
  ["client-cookie-session.ts", /^3\. a new client loaded from the file sends: session$/m],
  ["demo.ts", /^ {3}1000 bytes, identical to bytes 1000-1999 of the file$/m]
]

describe("examples", () => {
  for (const [file, expected] of examples) {
    it(`node examples/${file}`, async () => {
      const run = await runExample(file)
      const output = `exit ${run.code ?? run.signal}\n--- stdout\n${run.stdout}--- stderr\n${run.stderr}`
      assert.strictEqual(run.code, 0, output)
      assert.match(run.stdout, expected, output)
      assert.match(run.stdout, /^done$/m, output)
    }, 40_000)
  }
})
