// The whole check, as `npm test` and CI run it: type-check every package, test
// and example; lint and format-check; run every test. Every stage runs even
// when an earlier one failed, so one run shows every problem. The last line is
// the test runner's own count, `N passed, M failed[, K skipped]`; the exit
// status is non-zero when any stage failed.
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
/** @param {string} name */
const bin = (name) => join(root, "node_modules", ".bin", name)
const report = join(root, ".tmp", "vitest-report.json")

/**
 * @param {string} name
 * @param {string} command
 * @param {ReadonlyArray<string>} args
 */
const stage = (name, command, args) => {
  process.stderr.write(`\n[httpkit] ${name}: ${[command.split("/").pop(), ...args].join(" ")}\n`)
  const result = spawnSync(command, args, { cwd: root, stdio: "inherit" })
  const ok = result.status === 0
  process.stderr.write(`[httpkit] ${name}: ${ok ? "ok" : `failed (exit ${result.status ?? result.signal})`}\n`)
  return ok
}

/** @type {Array<string>} */
const failures = []
if (!stage("types", bin("tsc"), ["-b"])) failures.push("types")
if (!stage("lint", bin("oxlint"), ["--deny-warnings"])) failures.push("lint")
if (!stage("format", bin("dprint"), ["check"])) failures.push("format")

mkdirSync(dirname(report), { recursive: true })
rmSync(report, { force: true })
const vitestArgs = [
  "run",
  "--reporter=default",
  "--reporter=json",
  `--outputFile.json=${report}`,
  ...process.argv.slice(2)
]
if (!stage("tests", bin("vitest"), vitestArgs)) failures.push("tests")

let summary
if (existsSync(report)) {
  const result = JSON.parse(readFileSync(report, "utf8"))
  const skipped = (result.numPendingTests ?? 0) + (result.numTodoTests ?? 0)
  summary = `${result.numPassedTests} passed, ${result.numFailedTests} failed${
    skipped > 0 ? `, ${skipped} skipped` : ""
  }`
  if (result.numTotalTests === 0 && !failures.includes("tests")) failures.push("tests (none ran)")
}
if (failures.length > 0) process.stderr.write(`\n[httpkit] failed stages: ${failures.join(", ")}\n`)
if (summary === undefined) {
  process.stderr.write("[httpkit] the test runner wrote no report\n")
  process.exit(1)
}
console.log(summary)
process.exit(failures.length > 0 ? 1 : 0)
