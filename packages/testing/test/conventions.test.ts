import { assert, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../../../", import.meta.url))

/** The categories listed in the root README's Conventions section: the first cell of each table row. */
const listed = (): ReadonlyArray<string> => {
  const readme = Fs.readFileSync(Path.join(root, "README.md"), "utf8")
  const section = readme.split(/^## /m).find((part) => part.startsWith("Conventions\n")) ?? ""
  return [...section.matchAll(/^\| `([a-z ]+)` +\|/gm)].map((match) => match[1]!)
}

/** Every `.ts` file under `packages/<name>/src`, relative to the root. */
const sources = (): ReadonlyArray<string> =>
  Fs.readdirSync(Path.join(root, "packages")).flatMap((name) => {
    const src = Path.join(root, "packages", name, "src")
    if (!Fs.existsSync(src)) return []
    return Fs.readdirSync(src, { recursive: true, encoding: "utf8" })
      .filter((file) => file.endsWith(".ts"))
      .map((file) => Path.join("packages", name, "src", file))
  })

const skipped = new Set(["node_modules", "build", "dist", "tools", ".tmp", ".git"])

/** Every `.ts` and `.md` file of the repository outside `node_modules`, build output and `.tmp`, relative to the root. */
const texts = (folder = ""): ReadonlyArray<string> =>
  Fs.readdirSync(Path.join(root, folder), { withFileTypes: true }).flatMap((entry) => {
    const file = Path.join(folder, entry.name)
    if (entry.isDirectory()) return skipped.has(entry.name) ? [] : texts(file)
    return /\.(ts|md)$/.test(entry.name) ? [file] : []
  })

describe("conventions", () => {
  it("the README lists the JSDoc categories", () => {
    const categories = listed()
    assert.include(categories, "models")
    assert.strictEqual(new Set(categories).size, categories.length, `listed twice: ${categories.join(", ")}`)
  })

  it("every @category in packages/*/src is one the README lists", () => {
    const categories = new Set(listed())
    const outside: Array<string> = []
    let seen = 0
    for (const file of sources()) {
      const lines = Fs.readFileSync(Path.join(root, file), "utf8").split("\n")
      lines.forEach((line, index) => {
        const match = /@category\s+(.*?)\s*$/.exec(line)
        if (match === null) return
        seen++
        if (!categories.has(match[1]!)) outside.push(`${file}:${index + 1} @category ${match[1]}`)
      })
    }
    assert.isAbove(seen, 100)
    assert.deepStrictEqual(outside, [])
  })

  it("every RELIABILITY <n> cited names a promise of docs/reliability.md", () => {
    const promises = Fs.readFileSync(Path.join(root, "docs", "reliability.md"), "utf8").match(/^\d+\. /gm) ?? []
    assert.strictEqual(promises.length, 21)
    const unknown: Array<string> = []
    let cited = 0
    for (const file of texts()) {
      const text = Fs.readFileSync(Path.join(root, file), "utf8")
      for (const match of text.matchAll(/RELIABILITY ((?:\d+(?:, | and )?)+)/g)) {
        for (const number of match[1]!.match(/\d+/g)!) {
          cited++
          if (Number(number) < 1 || Number(number) > promises.length) unknown.push(`${file}: RELIABILITY ${number}`)
        }
      }
    }
    assert.isAbove(cited, 40)
    assert.deepStrictEqual(unknown, [])
  })
})
