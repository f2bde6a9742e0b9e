/**
 * A server in a child process of its own, so that its CPU time is not billed
 * to the client being measured: the two halves every benchmark server is made
 * of, `listenInChild` in the child and `startServerProcess` in the parent.
 * `jsonServer.ts` is one; `download.ts` has its static file server.
 *
 * **Gotchas**: the child exits when the parent closes its stdin, which the
 * operating system does when the parent dies, so no server outlives a crashed
 * benchmark. Only `node:` modules are imported here, so a child that loads
 * this file loads nothing else with it.
 */
import { spawn } from "node:child_process"
import { once } from "node:events"
import * as Http from "node:http"

/**
 * The child's half: listens on a free port of 127.0.0.1, prints the port as
 * one line, and exits when stdin ends (the parent is gone) or on SIGTERM.
 */
export const listenInChild = (server: Http.Server): void => {
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    process.stdout.write(`${typeof address === "object" && address !== null ? address.port : 0}\n`)
  })
  process.stdin.on("end", () => process.exit(0))
  process.stdin.resume()
  process.on("SIGTERM", () => process.exit(0))
}

/** A server running in a child process. */
export interface ServerProcess {
  readonly port: number
  readonly pid: number | undefined
  /** Closes its stdin and sends SIGTERM; resolves once it exited. */
  readonly stop: () => Promise<void>
}

/**
 * The parent's half: runs `node ARGS` (a script whose child side calls
 * `listenInChild`) and resolves with the port it printed.
 */
export const startServerProcess = async (args: ReadonlyArray<string>): Promise<ServerProcess> => {
  const child = spawn(process.execPath, args, { stdio: ["pipe", "pipe", "inherit"] })
  const [chunk] = (await Promise.race([
    once(child.stdout, "data"),
    once(child, "exit").then(() => {
      throw new Error("the server process exited before it listened")
    })
  ])) as [Buffer]
  const port = Number.parseInt(chunk.toString("utf8"), 10)
  if (!(port > 0)) throw new Error(`the server printed no port: ${JSON.stringify(chunk.toString("utf8"))}`)
  return {
    port,
    pid: child.pid,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = once(child, "exit")
      child.stdin.end()
      child.kill("SIGTERM")
      await exited
    }
  }
}
