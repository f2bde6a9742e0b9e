import { assert, describe, it } from "@effect/vitest"
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

const bin = fileURLToPath(new URL("../src/bin.ts", import.meta.url))

interface Started {
  readonly child: ChildProcess
  readonly firstLine: Promise<string>
  readonly exited: Promise<{ code: number | null; stdout: string; stderr: string }>
}

const start = (...args: Array<string>): Started => {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "pipe", "pipe"] })
  let stdout = ""
  let stderr = ""
  const firstLine = new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", (chunk: Buffer) => {
      stdout += chunk.toString()
      const newline = stdout.indexOf("\n")
      if (newline >= 0) resolve(stdout.slice(0, newline))
    })
    child.on("exit", () => reject(new Error(`exited before printing a line; stderr: ${stderr}`)))
  })
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on("exit", (code) => resolve({ code, stdout, stderr }))
  )
  firstLine.catch(() => {})
  return { child, firstLine, exited }
}

const withDeadline = <A>(promise: Promise<A>, millis: number, what: string): Promise<A> =>
  Promise.race([
    promise,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} took over ${millis} ms`)), millis))
  ])

describe("the standalone server process", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`prints its URL first, serves, and stops cleanly with exit 0 on ${signal}`, async () => {
      const server = start("--port", "0")
      try {
        const url = await withDeadline(server.firstLine, 20_000, "start-up")
        assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/)
        const health = await fetch(`${url}/health`)
        assert.strictEqual(health.status, 200)
        server.child.kill(signal)
        const { code } = await withDeadline(server.exited, 10_000, "shutdown")
        assert.strictEqual(code, 0)
        const afterwards = await fetch(`${url}/health`).then(() => "answered", (error: Error) => error.message)
        assert.strictEqual(afterwards, "fetch failed")
      } finally {
        server.child.kill("SIGKILL")
      }
    }, 40_000)
  }

  it("refuses a bad --port with a usage message and exit 2", async () => {
    const { code, stderr } = await withDeadline(start("--port", "http").exited, 20_000, "exit")
    assert.strictEqual(code, 2)
    assert.include(stderr, "--port must be an integer")
    assert.include(stderr, "usage:")
  }, 40_000)

  it("fails with a non-zero exit when the port is taken", async () => {
    const first = start("--port", "0")
    try {
      const url = await withDeadline(first.firstLine, 20_000, "start-up")
      const port = new URL(url).port
      const { code, stderr } = await withDeadline(start("--port", port).exited, 20_000, "exit")
      assert.notStrictEqual(code, 0)
      assert.match(stderr, /EADDRINUSE|ServeError/)
    } finally {
      first.child.kill("SIGKILL")
    }
  }, 40_000)
})
