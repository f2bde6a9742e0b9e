/**
 * The TypeScript code blocks of a README, as a user copies them: every fenced
 * block whose info string starts with `ts` or `typescript`, with the line of
 * its opening fence, so that a type error in a block can be reported as
 * `packages/client/README.md:348:18`.
 *
 * **Details**
 *
 * - Fences are CommonMark's: three or more backticks or tildes, closed by a
 *   fence of the same character at least as long. Blocks of other languages
 *   (`sh`, `text`, none) are passed over whole, so a ```ts line inside them
 *   opens nothing.
 * - A block that is a fragment on purpose is marked by the comment
 *   `<!-- snippet: fragment -->` on the last non-blank line before its fence;
 *   it is returned with `fragment: true` and not checked. Any other
 *   `snippet:` mark is refused, so that a typo cannot skip a block.
 * - An indented fence (in a list item) has its indentation removed from the
 *   block's lines, as Markdown does.
 */

/** One TypeScript block of a README. */
export interface Block {
  /** The README, as given to `blocksOf` (a path relative to the repository). */
  readonly readme: string
  /** The 1-based line of the opening fence; the block's first line is the next one. */
  readonly line: number
  /** The block's text, one line per README line, ending with a newline. */
  readonly code: string
  /** Marked `<!-- snippet: fragment -->`: shown, not checked. */
  readonly fragment: boolean
}

const opening = /^( *)(`{3,}|~{3,})\s*([^`\s]*)/
const mark = /^<!--\s*snippet:\s*(\S+)\s*-->$/
const typescript = new Set(["ts", "typescript"])

/** The TypeScript blocks of the Markdown `text` of `readme`, in order. */
export const blocksOf = (readme: string, text: string): ReadonlyArray<Block> => {
  const lines = text.split(/\r?\n/)
  const blocks: Array<Block> = []
  let lastText = ""
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!
    const fence = opening.exec(line)
    if (fence === null) {
      if (line.trim() !== "") lastText = line.trim()
      continue
    }
    const [, indent, marker, info] = fence
    const closing = new RegExp(`^ *${marker[0] === "`" ? "`" : "~"}{${marker.length},}\\s*$`)
    const body: Array<string> = []
    let end = n + 1
    while (end < lines.length && !closing.test(lines[end]!)) {
      const inner = lines[end]!
      body.push(inner.startsWith(indent) ? inner.slice(indent.length) : inner.trimStart())
      end++
    }
    if (end === lines.length) throw new Error(`${readme}:${n + 1}: a code block that is never closed`)
    const marked = mark.exec(lastText)
    if (marked !== null && marked[1] !== "fragment") {
      throw new Error(`${readme}:${n + 1}: unknown mark "${marked[1]}" (the one mark is <!-- snippet: fragment -->)`)
    }
    if (typescript.has(info.toLowerCase())) {
      blocks.push({ readme, line: n + 1, code: `${body.join("\n")}\n`, fragment: marked !== null })
    }
    lastText = ""
    n = end
  }
  return blocks
}

/** The file a block is written to: its README's path and its line, as a file name (`packages-client-README-L10.ts`). */
export const fileNameOf = (block: Block): string =>
  `${block.readme.replace(/\.md$/i, "").replace(/[^A-Za-z0-9]+/g, "-")}-L${block.line}.ts`

/**
 * `tsc`'s output with every diagnostic in a block's file (`folder/<file>(row,column): ...`) named by its README
 * and line instead; other lines are kept as they are.
 */
export const locate = (output: string, folder: string, blocks: ReadonlyArray<Block>): ReadonlyArray<string> => {
  const byFile = new Map(blocks.map((block) => [fileNameOf(block), block]))
  const diagnostic = /^(.*?)\((\d+),(\d+)\): (.*)$/
  return output.split("\n").filter((line) => line.trim() !== "").map((line) => {
    const found = diagnostic.exec(line)
    const file = found?.[1]?.replace(/\\/g, "/")
    const block = file?.startsWith(`${folder}/`) ? byFile.get(file.slice(folder.length + 1)) : undefined
    if (found === null || block === undefined) return line
    return `${block.readme}:${block.line + Number(found[2])}:${found[3]} (the block at line ${block.line}): ${found[4]}`
  })
}
