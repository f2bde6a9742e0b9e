#!/usr/bin/env node
// Entry point of the root scripts (`npm run demo`, `npm test`, `pnpm test-server`).
//
// Runs under any Node.js from 18 on, so it works on a machine that ships only an
// older Node and npm. It installs the pinned toolchain (Node.js and pnpm, from
// the npm registry, listed in tools/package.json) into tools/node_modules,
// installs the workspace with that pnpm, and runs the task with that Node. Each
// step is skipped when it is already up to date.
//
// Node.js comes as one registry package per platform; scripts/toolchain.mjs picks
// the one for this machine (Linux x64 and arm64); on another POSIX machine
// (macOS: the registry has no build of the pin) the Node.js running this script
// when it meets engines.node (22.19 or newer); else it stops here, before
// installing anything, naming what it supports.
//
// Plain JavaScript on purpose: it must run before TypeScript support exists.
import { spawn, spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync
} from "node:fs"
import { constants } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { chooseNode, floorOf } from "./toolchain.mjs"

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

/**
 * @param {ReadonlyArray<string>} files
 * @param {string} extra
 */
const digest = (files, extra) => {
  const hash = createHash("sha256")
  for (const file of files) hash.update(existsSync(file) ? readFileSync(file) : "")
  hash.update(extra)
  return hash.digest("hex")
}

/**
 * Runs `install` unless `stamp` already records the digest of `inputs` (and of `extra`).
 * @param {string} what
 * @param {string} stamp
 * @param {ReadonlyArray<string>} inputs
 * @param {() => void} install
 * @param {string} [extra]
 */
const ensure = (what, stamp, inputs, install, extra = "") => {
  const wanted = digest(inputs, extra)
  if (existsSync(stamp) && readFileSync(stamp, "utf8") === wanted) return
  log(`installing ${what}...`)
  install()
  mkdirSync(dirname(stamp), { recursive: true })
  writeFileSync(stamp, wanted)
}

/**
 * Points tools/node_modules/.bin/node at `target`, unless it already does (npm
 * links a package's bin itself; a link left by another choice is replaced).
 * @param {string} target
 */
const linkNode = (target) => {
  let current
  try {
    current = readlinkSync(nodeBin)
  } catch {
    current = undefined
  }
  if (current === target) return
  mkdirSync(toolsBin, { recursive: true })
  rmSync(nodeBin, { force: true })
  symlinkSync(target, nodeBin)
}

/**
 * Installs pnpm and this machine's Node.js into tools/node_modules, or stops
 * (exit 1, nothing installed) on a machine the pins do not cover.
 */
const ensureToolchain = () => {
  const manifest = JSON.parse(readFileSync(join(toolsDir, "package.json"), "utf8"))
  const choice = chooseNode({
    platform: process.platform,
    arch: process.arch,
    runningVersion: process.versions.node,
    manifest,
    floor: floorOf(JSON.parse(readFileSync(join(root, "package.json"), "utf8")).engines?.node)
  })
  if (choice.kind === "unsupported") {
    log(choice.message)
    process.exit(1)
  }
  ensure(
    choice.kind === "package"
      ? `pnpm and Node.js ${choice.version} (${choice.name}), pinned in tools/package.json`
      : `pnpm (tools/package.json), with this machine's Node.js ${choice.version} (the registry has no pinned build for ${process.platform}-${process.arch})`,
    join(toolsDir, "node_modules", ".httpkit-stamp"),
    [join(toolsDir, "package.json")],
    () => {
      // The versions are exact pins. No lockfile: pnpm's native build lists optional
      // per-platform packages that the registry does not all publish, which `npm ci` rejects.
      // Node.js is an optional dependency per platform: npm installs the one whose os and cpu fit.
      mustRun(
        "npm",
        ["install", "--prefix", toolsDir, "--no-package-lock", "--no-audit", "--no-fund", "--loglevel=error"],
        "npm install (tools)"
      )
      linkNode(
        choice.kind === "running"
          ? process.execPath
          : join(
            "..",
            choice.name,
            JSON.parse(readFileSync(join(toolsDir, "node_modules", choice.name, "package.json"), "utf8")).bin.node
          )
      )
      const version = spawnSync(nodeBin, ["--version"], { encoding: "utf8" }).stdout?.trim()
      if (version !== `v${choice.version}`) {
        log(`${nodeBin} is ${version || "missing"}, not the chosen v${choice.version}`)
        process.exit(1)
      }
    },
    `${process.platform}-${process.arch} ${choice.kind} ${choice.version}`
  )
}

const ensureWorkspace = () =>
  ensure(
    "the workspace dependencies (pnpm-lock.yaml)",
    join(root, "node_modules", ".httpkit-stamp"),
    [join(root, "pnpm-lock.yaml"), join(root, "package.json"), join(root, "pnpm-workspace.yaml")],
    () => mustRun(pnpmBin, ["install", "--frozen-lockfile", "--reporter=append-only"], "pnpm install")
  )

/**
 * The status to exit with when the task's child ended with `code`, or was
 * ended by `signal`: its code; for a signal, 128 plus its number, as a shell
 * reports it (130 for SIGINT, 143 for SIGTERM), except that the test server,
 * whose documented way to stop is SIGINT or SIGTERM, then exits 0.
 * @param {string | undefined} task
 * @param {number | null} code
 * @param {NodeJS.Signals | null} signal
 */
const exitStatus = (task, code, signal) => {
  if (code !== null) return code
  if (task === "test-server" && (signal === "SIGINT" || signal === "SIGTERM")) return 0
  const number = signal === null ? undefined : constants.signals[signal]
  return number === undefined ? 1 : 128 + number
}

/**
 * Runs the task's Node script in `cwd`, forwarding SIGINT and SIGTERM, and exits with its status (`exitStatus`).
 * @param {string | undefined} task
 * @param {string} script
 * @param {ReadonlyArray<string>} args
 * @param {string} [cwd]
 */
const runTask = (task, script, args, cwd = root) => {
  const child = spawn(nodeBin, [join(root, script), ...args], { cwd, env: taskEnv, stdio: "inherit" })
  /** @param {NodeJS.Signals} signal */
  const forward = (signal) => child.kill(signal)
  process.on("SIGINT", forward)
  process.on("SIGTERM", forward)
  child.on("exit", (code, signal) => process.exit(exitStatus(task, code, signal)))
}

/**
 * The tasks: the script each runs, or for `example` and `bench` the folder
 * whose `<name>.ts` the first argument names (`npm run example -- <name> [flags]`).
 * An example runs in the folder npm was started from (`INIT_CWD`), so that a
 * relative `--dest` or `--dir` is the caller's; everything else in the root.
 * @type {Record<string, string | { readonly folder: string, readonly callerCwd?: boolean }>}
 */
const tasks = {
  demo: "examples/demo.ts",
  example: { folder: "examples", callerCwd: true },
  bench: { folder: "bench" },
  "test-server": "packages/testing/src/bin.ts",
  test: "scripts/test.mjs"
}

/**
 * The scripts of a folder task: its `*.ts` files, by name (their helpers live in its `support/`).
 * @param {string} folder
 */
const scriptsIn = (folder) =>
  // oxlint-disable-next-line unicorn/no-array-sort -- a new array; toSorted needs Node 20, this file runs on 18
  readdirSync(join(root, folder)).filter((file) => file.endsWith(".ts")).map((file) => file.slice(0, -3)).sort()

/**
 * The script a task runs and its arguments; exits with the usage (status 2) when
 * the task or the script is unknown, and lists a folder's scripts on `--help` (status 0).
 * @param {string | undefined} task
 * @param {ReadonlyArray<string>} args
 * @returns {{ readonly script: string, readonly args: ReadonlyArray<string>, readonly cwd?: string }}
 */
const selectTask = (task, args) => {
  const entry = task !== undefined && Object.hasOwn(tasks, task) ? tasks[task] : undefined
  if (entry === undefined) {
    log(`usage: node scripts/bootstrap.mjs <${Object.keys(tasks).join("|")}> [args...]`)
    return process.exit(2)
  }
  if (typeof entry === "string") return { script: entry, args }
  const [given, ...rest] = args
  const names = scriptsIn(entry.folder)
  const list = `usage: npm run ${task} -- <name> [flags] (--help after the name lists its flags), name one of: ${
    names.join(", ")
  }`
  if (given === "--help" || given === "-h") {
    process.stdout.write(`${list}\n`)
    return process.exit(0)
  }
  const name = given?.replace(/\.ts$/, "")
  if (name === undefined || !names.includes(name)) {
    log(given === undefined ? `no ${task} named` : `unknown ${task} ${JSON.stringify(given)}`)
    log(list)
    return process.exit(2)
  }
  const cwd = entry.callerCwd === true ? process.env.INIT_CWD ?? process.cwd() : root
  return { script: `${entry.folder}/${name}.ts`, args: rest, cwd }
}

const task = process.argv[2]
const selected = selectTask(task, process.argv.slice(3))
// Scripts reuse Node's compile cache (compiled code and stripped TypeScript) between runs, which
// saves about 0.25 s of CPU per start (bench/README.md, startup.ts); a NODE_COMPILE_CACHE of the
// caller's wins. Not for benchmarks, which measure start-up themselves, nor for the test runner.
const taskEnv = task === "bench" || task === "test"
  ? env
  : { NODE_COMPILE_CACHE: join(root, ".tmp", "compile-cache"), ...env }
ensureToolchain()
ensureWorkspace()
runTask(task, selected.script, selected.args, selected.cwd)
