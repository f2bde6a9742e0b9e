import { assert, describe, it } from "@effect/vitest"
import * as DocumentedCommands from "@httpkit/testing/DocumentedCommands"

const readme = [
  "# Examples",
  "",
  "Run `npm run example -- inline` (prose, not a table: not listed).",
  "",
  "| command                                  | what it shows |",
  "| ---------------------------------------- | ------------- |",
  "| `npm run example -- first`               | one           |",
  "| `npm run example -- second --rate 5.5`   | two (a `npm run example -- in-cell` span) |",
  "| `npm run bench -- client`                | another script |",
  "|`npm run example -- no-space`             | no space after the bar: not a row we read |",
  "| `npm run example -- (a+b)*`              | regex characters in the command |",
  "| `npm run example -- `                     | the prefix alone: no command |"
].join("\n")

describe("DocumentedCommands", () => {
  it("inTables: the first cell's commands with the prefix, in order; prose, other cells and other scripts left out", () => {
    assert.deepStrictEqual(DocumentedCommands.inTables(readme, "npm run example -- "), [
      "npm run example -- first",
      "npm run example -- second --rate 5.5",
      "npm run example -- (a+b)*"
    ])
    assert.deepStrictEqual(DocumentedCommands.inTables(readme, "npm run bench -- "), ["npm run bench -- client"])
  })

  it("inTables: a prefix with regular-expression characters matches literally", () => {
    assert.deepStrictEqual(DocumentedCommands.inTables("| `a.b c` |\n| `axb d` |", "a.b "), ["a.b c"])
  })

  it("argumentsOf: the words after the prefix; a command without it throws", () => {
    assert.deepStrictEqual(
      DocumentedCommands.argumentsOf("npm run example -- second --rate 5.5", "npm run example -- "),
      ["second", "--rate", "5.5"]
    )
    assert.throws(
      () => DocumentedCommands.argumentsOf("npm run bench -- client", "npm run example -- "),
      /does not start with "npm run example -- "/
    )
  })
})
