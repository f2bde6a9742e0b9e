#!/usr/bin/env node
// Entry point of the root scripts (`npm run demo`, `npm test`, `pnpm test-server`).
//
// Runs under any Node.js from 18 on, so it works on a machine that ships only an
// older Node and npm. It installs the pinned toolchain (Node.js and pnpm, from
// the npm registry, listed in tools/package.json) into tools/node_modules,
// installs the workspace with that pnpm, and runs the task with that Node. Each
// step is skipped when it is already up to date.
//
// Plain JavaScript on purpose: it must run before TypeScript support exists.
import { spawn, spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const toolsDir = join(root, "tools")
const toolsBin = join(toolsDir, "node_modules", ".bin")
const nodeBin = join(toolsBin, "node")
const pnpmBin = join(toolsBin, "pnpm")
const env = { ...process.env, PATH: `${toolsBin}:${process.env.PATH ?? ""}` }

/** @param {string} message */
const log = (message) => process.stderr.write(`[httpkit] ${message}\n`)

/**
 * @param {string} command
 * @param {ReadonlyArray<string>} args
 */
const run = (command, args) => {
  const result = spawnSync(command, args, { cwd: root, env, stdio: "inherit" })
  if (result.error) throw result.error
  if (result.signal) process.kill(process.pid, result.signal)
  return result.status ?? 1
}

/**
 * @param {string} command
 * @param {ReadonlyArray<string>} args
 * @param {string} what
 */
const mustRun = (command, args, what) => {
  const status = run(command, args)
  if (status !== 0) {
    log(`${what} failed (exit ${status})`)
    process.exit(status)
  }
}

/** @param {ReadonlyArray<string>} files */
const digest = (...files) => {
  const hash = createHash("sha256")
  for (const file of files) hash.update(existsSync(file) ? readFileSync(file) : "")
  return hash.digest("hex")
}

/**
 * Runs `install` unless `stamp` already records the digest of `inputs`.
 * @param {string} what
 * @param {string} stamp
 * @param {ReadonlyArray<string>} inputs
 * @param {() => void} install
 */
const ensure = (what, stamp, inputs, install) => {
  const wanted = digest(...inputs)
  if (existsSync(stamp) && readFileSync(stamp, "utf8") === wanted) return
  log(`installing ${what}...`)
  install()
  mkdirSync(dirname(stamp), { recursive: true })
  writeFileSync(stamp, wanted)
}

const ensureToolchain = () =>
  ensure(
    "the pinned Node.js and pnpm (tools/package.json)",
    join(toolsDir, "node_modules", ".httpkit-stamp"),
    [join(toolsDir, "package.json")],
    // The versions are exact pins. No lockfile: pnpm's native build lists optional
    // per-platform packages that the registry does not all publish, which `npm ci` rejects.
    () =>
      mustRun(
        "npm",
        ["install", "--prefix", toolsDir, "--no-package-lock", "--no-audit", "--no-fund", "--loglevel=error"],
        "npm install (tools)"
      )
  )

const ensureWorkspace = () =>
  ensure(
    "the workspace dependencies (pnpm-lock.yaml)",
    join(root, "node_modules", ".httpkit-stamp"),
    [join(root, "pnpm-lock.yaml"), join(root, "package.json"), join(root, "pnpm-workspace.yaml")],
    () => mustRun(pnpmBin, ["install", "--frozen-lockfile", "--reporter=append-only"], "pnpm install")
  )

/**
 * Runs the task's Node script, forwarding SIGINT and SIGTERM, and exits with its status.
 * @param {string} script
 * @param {ReadonlyArray<string>} args
 */
const runTask = (script, args) => {
  const child = spawn(nodeBin, [join(root, script), ...args], { cwd: root, env, stdio: "inherit" })
  /** @param {NodeJS.Signals} signal */
  const forward = (signal) => child.kill(signal)
  process.on("SIGINT", forward)
  process.on("SIGTERM", forward)
  child.on("exit", (code, signal) => process.exit(code ?? (signal === "SIGINT" || signal === "SIGTERM" ? 0 : 1)))
}

/** @type {Record<string, string>} */
const tasks = {
  demo: "examples/demo.ts",
  "test-server": "packages/testing/src/bin.ts",
  test: "scripts/test.mjs"
}

const [task, ...args] = process.argv.slice(2)
const selected = task === undefined ? undefined : tasks[task]
if (selected === undefined) {
  log(`usage: node scripts/bootstrap.mjs <${Object.keys(tasks).join("|")}> [args...]`)
  process.exit(2)
}
ensureToolchain()
ensureWorkspace()
runTask(selected, args)
