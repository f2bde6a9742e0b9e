/**
 * Machine instructions of one run of a script, counted by valgrind's
 * callgrind: a figure that does not move with the machine's load. A
 * benchmark runs a case twice, with N and 2N calls, and divides the
 * difference of the totals by N: start-up, module loading and JIT warm-up
 * cancel out.
 */
import { spawn } from "node:child_process"

/**
 * Total user-space instructions of `node ARGS` under callgrind. Node runs
 * predictable and single-threaded (compilation and GC on the main thread,
 * fixed seeds), with a young generation of fixed size and an old one large
 * enough that no major GC runs: two runs differ only by their calls and the
 * scavenges those cause (repeat runs agree within about 0.2%; with V8's own
 * heap sizing a major GC lands in some runs and not in others, which moves a
 * figure by 30%). `--expose-gc` lets the script collect before its measured
 * calls.
 */
export const callgrindInstructions = (args: ReadonlyArray<string>, label: string): Promise<number> =>
  new Promise((resolve, reject) => {
    const child = spawn("valgrind", [
      "--tool=callgrind",
      "--callgrind-out-file=/dev/null",
      process.execPath,
      "--predictable",
      "--single-threaded",
      "--initial-heap-size=2048",
      "--min-semi-space-size=16",
      "--max-semi-space-size=16",
      "--expose-gc",
      ...args
    ], { stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk
    })
    child.on("close", (status) => {
      const match = /Collected : (\d+)/.exec(stderr)
      if (status !== 0 || match === null) {
        reject(new Error(`valgrind failed for ${label} (status ${status}):\n${stderr.slice(-2000)}`))
      } else {
        resolve(Number(match[1]))
      }
    })
  })
