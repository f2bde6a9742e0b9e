/**
 * How `pack-install.test.ts` finds the TypeScript blocks of a README and
 * names a type error in one by its README and line.
 */
import { assert, describe, it } from "@effect/vitest"
import { blocksOf, fileNameOf, locate } from "./readmeBlocks.ts"

const readme = [
  "# title", // 1
  "", // 2
  "```ts", // 3
  "const a = 1", // 4
  "```", // 5
  "", // 6
  "```sh", // 7
  "npm install", // 8
  "```", // 9
  "", // 10
  "```typescript", // 11
  "const b = 2", // 12
  "", // 13
  "const c = 3", // 14
  "```", // 15
  "", // 16
  "```", // 17
  "not typescript", // 18
  "```", // 19
  "```text", // 20
  "invalid: x", // 21
  "```", // 22
  "- a list item:", // 23
  "", // 24
  "  ```ts", // 25
  "  const d = 4", // 26
  "    .toString()", // 27
  "  ```", // 28
  ""
].join("\n")

describe("the TypeScript blocks of a README", () => {
  it("ts, typescript and an indented ts block among sh, text and untagged ones: 3 blocks, at fence lines 3, 11 and 25, their text as written, the list item's indentation removed", () => {
    assert.deepStrictEqual(blocksOf("README.md", readme), [
      { readme: "README.md", line: 3, code: "const a = 1\n", fragment: false },
      { readme: "README.md", line: 11, code: "const b = 2\n\nconst c = 3\n", fragment: false },
      { readme: "README.md", line: 25, code: "const d = 4\n  .toString()\n", fragment: false }
    ])
  })

  it("a ```ts line inside a ```` block, a ~~~ block or a ```sh block opens nothing: 1 block, the ~~~ts one at line 9", () => {
    const text = [
      "````md", // 1
      "```ts", // 2
      "not code", // 3
      "```", // 4
      "````", // 5
      "```sh", // 6
      "```ts", // 7 closes nothing: a closing fence has no info string
      "```", // 8
      "~~~ts", // 9
      "```", // 10
      "const e = 5", // 11
      "~~~", // 12
      ""
    ].join("\n")
    assert.deepStrictEqual(blocksOf("x.md", text), [
      { readme: "x.md", line: 9, code: "```\nconst e = 5\n", fragment: false }
    ])
  })

  it("<!-- snippet: fragment --> on the last non-blank line before a fence marks that block only: the next block, after prose, is checked", () => {
    const text = [
      "<!-- snippet: fragment -->", // 1
      "", // 2
      "```ts", // 3
      "client.get(url)", // 4
      "```", // 5
      "", // 6
      "<!-- snippet: fragment -->", // 7
      "Some prose.", // 8
      "```ts", // 9
      "const f = 6", // 10
      "```", // 11
      ""
    ].join("\n")
    assert.deepStrictEqual(blocksOf("x.md", text).map((block) => [block.line, block.fragment]), [[3, true], [9, false]])
  })

  it("another snippet mark, or a block never closed, throws with the README and the fence's line 3", () => {
    assert.throws(
      () => blocksOf("y.md", "text\n<!-- snippet: frag -->\n```ts\nx\n```\n"),
      /^y\.md:3: unknown mark "frag"/
    )
    assert.throws(() => blocksOf("y.md", "\n\n```ts\nx\n"), /^y\.md:3: a code block that is never closed/)
  })

  it("a diagnostic at row 2, column 7 of the block whose fence is line 11 of packages/client/README.md is named packages/client/README.md:13:7; other lines are kept", () => {
    const block = { readme: "packages/client/README.md", line: 11, code: "", fragment: false }
    assert.strictEqual(fileNameOf(block), "packages-client-README-L11.ts")
    const output = [
      "blocks/packages-client-README-L11.ts(2,7): error TS2304: Cannot find name 'Layer'.",
      "node_modules/x/index.d.ts(1,1): error TS1000: elsewhere.",
      "  a continued message",
      ""
    ].join("\n")
    assert.deepStrictEqual(locate(output, "blocks", [block]), [
      "packages/client/README.md:13:7 (the block at line 11): error TS2304: Cannot find name 'Layer'.",
      "node_modules/x/index.d.ts(1,1): error TS1000: elsewhere.",
      "  a continued message"
    ])
  })
})
