import { assert, describe, it } from "@effect/vitest"
import { type ChildProcess, spawn } from "node:child_process"
import * as Net from "node:net"
import { fileURLToPath } from "node:url"
import { flags } from "../src/internal/cli.ts"

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

/** The status, once the body was read to its end. */
const status = (response: Response): Promise<number> => response.text().then(() => response.status)

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

  it("stops at once on SIGTERM with a request in flight (GET /delay/60000), ending its connection", async () => {
    const server = start("--port", "0")
    try {
      const url = new URL(await withDeadline(server.firstLine, 20_000, "start-up"))
      const socket = Net.connect(Number(url.port), url.hostname)
      socket.on("error", () => {})
      socket.resume()
      const ended = new Promise<void>((resolve) => socket.on("close", () => resolve()))
      await new Promise<void>((resolve) =>
        socket.write("GET /delay/60000 HTTP/1.1\r\nHost: x\r\n\r\n", () => resolve())
      )
      // The server has it once its log lists it.
      const deadline = Date.now() + 20_000
      while (Date.now() < deadline) {
        const log = await fetch(`${url.origin}/__requests`).then((response) =>
          response.json() as Promise<Array<unknown>>
        )
        if (log.length > 0) break
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      const stopping = Date.now()
      server.child.kill("SIGTERM")
      // Effect's graceful shutdown alone would hold it 20 s.
      const { code } = await withDeadline(server.exited, 8_000, "shutdown with a request in flight")
      assert.strictEqual(code, 0)
      await withDeadline(ended, 2_000, "the client's connection ending")
      assert.isBelow(Date.now() - stopping, 8_000)
    } finally {
      server.child.kill("SIGKILL")
    }
  }, 40_000)

  it("--help documents every flag parseArgs accepts, on stdout, with exit 0", async () => {
    const { code, stdout } = await withDeadline(start("--help").exited, 20_000, "exit")
    assert.strictEqual(code, 0)
    assert.isTrue(stdout.startsWith("usage: httpkit-test-server [--port N] [--host ADDRESS] [--log] [--help]\n"))
    assert.deepStrictEqual(Object.keys(flags).toSorted(), ["help", "host", "log", "port"])
    for (const [name, flag] of Object.entries(flags)) {
      const row = stdout.split("\n").find((line) => line.includes(`--${name}`) && line.includes(flag.description))
      assert.isDefined(row, `--${name} is not documented`)
      if ("short" in flag) assert.include(row, `-${flag.short}, --${name}`)
    }
    assert.include(stdout, "GET <url>/ lists every route and its switches")
    const short = await withDeadline(start("-h").exited, 20_000, "exit")
    assert.strictEqual(short.stdout, stdout)
  }, 40_000)

  it("--log writes one line per request to stderr; stdout stays the URL then the raw listener", async () => {
    const server = start("--port", "0", "--log")
    try {
      const url = await withDeadline(server.firstLine, 20_000, "start-up")
      assert.strictEqual(await fetch(`${url}/status/503?x=1`).then(status), 503)
      assert.strictEqual(await fetch(`${url}/auth/rotate?token=t0ps3cret`, { method: "POST" }).then(status), 200)
      assert.strictEqual(await fetch(`${url}/nope`).then(status), 404)
      server.child.kill("SIGTERM")
      const { code, stdout, stderr } = await withDeadline(server.exited, 10_000, "shutdown")
      assert.strictEqual(code, 0)
      assert.match(stdout, /^http:\/\/127\.0\.0\.1:\d+\nraw-socket listener: http:\/\/127\.0\.0\.1:\d+\n$/)
      const lines = stderr.trimEnd().split("\n")
      assert.lengthOf(lines, 3, stderr)
      assert.match(lines[0]!, /^GET \/status\/503\?x=1 -> 503 \d+ms$/)
      assert.match(lines[1]!, /^POST \/auth\/rotate\?token=REDACTED -> 200 \d+ms$/)
      assert.match(lines[2]!, /^GET \/nope -> 404 \d+ms$/)
    } finally {
      server.child.kill("SIGKILL")
    }
  }, 40_000)

  it("without --log nothing is written per request", async () => {
    const server = start("--port", "0")
    try {
      const url = await withDeadline(server.firstLine, 20_000, "start-up")
      assert.strictEqual((await fetch(`${url}/status/503`)).status, 503)
      server.child.kill("SIGTERM")
      const { code, stderr } = await withDeadline(server.exited, 10_000, "shutdown")
      assert.strictEqual(code, 0)
      assert.strictEqual(stderr, "")
    } finally {
      server.child.kill("SIGKILL")
    }
  }, 40_000)

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
