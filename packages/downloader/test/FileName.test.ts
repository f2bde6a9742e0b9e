import { assert, describe, it } from "@effect/vitest"
import * as Path from "node:path"
import * as FileName from "../src/FileName.ts"

const utf8Length = (text: string): number => new TextEncoder().encode(text).length

/** The safe name, or a failed assertion naming the reason. */
const safe = (name: string, options?: FileName.SanitizeOptions): string => {
  const result = FileName.sanitize(name, options)
  if (!result.ok) assert.fail(`expected ${JSON.stringify(name)} to be accepted, refused: ${result.reason}`)
  return result.name
}

const refusal = (name: string, options?: FileName.SanitizeOptions): string => {
  const result = FileName.sanitize(name, options)
  if (result.ok) assert.fail(`expected ${JSON.stringify(name)} to be refused, got ${JSON.stringify(result.name)}`)
  return result.reason
}

describe("fromContentDisposition", () => {
  it("reads a quoted filename with a space: \"a b.txt\"", () => {
    assert.strictEqual(FileName.fromContentDisposition(`attachment; filename="a b.txt"`), "a b.txt")
  })

  it("reads an unquoted token filename: report.pdf", () => {
    assert.strictEqual(FileName.fromContentDisposition("attachment; filename=report.pdf"), "report.pdf")
  })

  it("unescapes backslash escapes in a quoted filename: say \"hi\" \\ bye.txt", () => {
    assert.strictEqual(
      FileName.fromContentDisposition(`attachment; filename="say \\"hi\\" \\\\ bye.txt"`),
      `say "hi" \\ bye.txt`
    )
  })

  it("keeps a ; inside a quoted filename and ignores the parameters after it", () => {
    assert.strictEqual(FileName.fromContentDisposition(`attachment; filename="a;b.txt"; size=3`), "a;b.txt")
  })

  it("decodes filename* in UTF-8: na%C3%AFve.txt is naïve.txt", () => {
    assert.strictEqual(FileName.fromContentDisposition("attachment; filename*=UTF-8''na%C3%AFve.txt"), "naïve.txt")
  })

  it("decodes filename* in ISO-8859-1 with a language tag: iso-8859-1'en'%A3%20rates.txt is £ rates.txt", () => {
    assert.strictEqual(
      FileName.fromContentDisposition("attachment; filename*=iso-8859-1'en'%A3%20rates.txt"),
      "£ rates.txt"
    )
  })

  it("decodes filename* in UTF-8 with a language tag: utf-8'de-CH'%E2%82%AC.txt is €.txt", () => {
    assert.strictEqual(FileName.fromContentDisposition("attachment; filename*=utf-8'de-CH'%E2%82%AC.txt"), "€.txt")
  })

  it("prefers filename* over filename, whichever comes first", () => {
    assert.strictEqual(
      FileName.fromContentDisposition(`attachment; filename="a b.txt"; filename*=UTF-8''na%C3%AFve.txt`),
      "naïve.txt"
    )
    assert.strictEqual(
      FileName.fromContentDisposition(`attachment; filename*=UTF-8''na%C3%AFve.txt; filename="a b.txt"`),
      "naïve.txt"
    )
  })

  it("falls back to filename when filename* has malformed percent-encoding: %ZZ, %E2%82 cut short, %C3%28", () => {
    for (const encoded of ["bad%ZZ.txt", "bad%E2%82", "bad%C3%28.txt", "bad%4"]) {
      assert.strictEqual(
        FileName.fromContentDisposition(`attachment; filename="fallback.txt"; filename*=UTF-8''${encoded}`),
        "fallback.txt",
        encoded
      )
    }
  })

  it("falls back to filename when filename* has an unknown charset (KOI8-R) or no quotes", () => {
    assert.strictEqual(
      FileName.fromContentDisposition(`attachment; filename*=KOI8-R''%E1.txt; filename="fallback.txt"`),
      "fallback.txt"
    )
    assert.strictEqual(
      FileName.fromContentDisposition(`attachment; filename*=na%C3%AFve.txt; filename="fallback.txt"`),
      "fallback.txt"
    )
  })

  it("treats parameter names and the charset case-insensitively and tolerates spaces around = and ;", () => {
    assert.strictEqual(FileName.fromContentDisposition(`ATTACHMENT ;  FileName = "x.txt" ;`), "x.txt")
    assert.strictEqual(FileName.fromContentDisposition("Attachment;FILENAME*=Utf-8''y%20z.txt"), "y z.txt")
  })

  it("keeps the first of a repeated filename", () => {
    assert.strictEqual(FileName.fromContentDisposition(`attachment; filename="one.txt"; filename="two.txt"`), "one.txt")
  })

  it("reads a filename from an inline disposition and from a header without a disposition type", () => {
    assert.strictEqual(FileName.fromContentDisposition(`inline; filename="page.html"`), "page.html")
    assert.strictEqual(FileName.fromContentDisposition(`filename="bare.txt"`), "bare.txt")
  })

  it("returns undefined without a non-empty name: attachment, inline; size=3, filename=\"\", empty header", () => {
    for (
      const header of ["attachment", "inline; size=3", `attachment; filename=""`, "", "attachment; filename*=UTF-8''"]
    ) {
      assert.strictEqual(FileName.fromContentDisposition(header), undefined, header)
    }
  })

  it("returns a hostile name as sent, for sanitize to clean: ../../etc/passwd", () => {
    assert.strictEqual(FileName.fromContentDisposition(`attachment; filename="../../etc/passwd"`), "../../etc/passwd")
  })
})

describe("fromUrl", () => {
  it("takes the last segment and ignores the query and the fragment: report.pdf", () => {
    assert.strictEqual(FileName.fromUrl("https://example.com/files/report.pdf?token=a/b.exe#page=2"), "report.pdf")
  })

  it("skips a trailing slash: https://example.com/files/ gives files", () => {
    assert.strictEqual(FileName.fromUrl("https://example.com/files/"), "files")
    assert.strictEqual(FileName.fromUrl("https://example.com/files//"), "files")
  })

  it("returns undefined for an empty path, /, or a query-only URL", () => {
    for (const url of ["https://example.com", "https://example.com/", "https://example.com/?name=a.txt", "/", ""]) {
      assert.strictEqual(FileName.fromUrl(url), undefined, url)
    }
  })

  it("percent-decodes the segment: na%C3%AFve%20file.txt is naïve file.txt", () => {
    assert.strictEqual(FileName.fromUrl("https://example.com/na%C3%AFve%20file.txt"), "naïve file.txt")
  })

  it("decodes %2F and %5C to _, never to a separator: a%2Fb.txt is a_b.txt", () => {
    assert.strictEqual(FileName.fromUrl("https://example.com/a%2Fb.txt"), "a_b.txt")
    assert.strictEqual(FileName.fromUrl("https://example.com/a%5cb.txt"), "a_b.txt")
    const traversal = FileName.fromUrl("https://example.com/..%2F..%2Fetc%2Fpasswd")
    assert.strictEqual(traversal, ".._.._etc_passwd")
    assert.strictEqual(safe(traversal!), "_._.._etc_passwd")
  })

  it("keeps a segment that does not decode as it is: bad%E2%82.txt", () => {
    assert.strictEqual(FileName.fromUrl("https://example.com/bad%E2%82.txt"), "bad%E2%82.txt")
  })

  it("accepts a URL object and a relative path", () => {
    assert.strictEqual(FileName.fromUrl(new URL("https://example.com/a/b.zip?x=1")), "b.zip")
    assert.strictEqual(FileName.fromUrl("/files/a.txt"), "a.txt")
  })
})

describe("sanitize", () => {
  it("keeps an ordinary name unchanged: report 2024 (final).pdf", () => {
    assert.strictEqual(safe("report 2024 (final).pdf"), "report 2024 (final).pdf")
  })

  it("keeps only the base name: ../../etc/passwd, ..\\..\\win.ini, /etc/passwd, C:\\x\\y.txt", () => {
    assert.strictEqual(safe("../../etc/passwd"), "passwd")
    assert.strictEqual(safe("..\\..\\windows\\win.ini"), "win.ini")
    assert.strictEqual(safe("/etc/passwd"), "passwd")
    assert.strictEqual(safe("C:\\x\\y.txt"), "y.txt")
    assert.strictEqual(safe("a/b\\c/d.txt"), "d.txt")
  })

  it("replaces the characters Windows reserves with _: C:evil.txt is C_evil.txt", () => {
    assert.strictEqual(safe("C:evil.txt"), "C_evil.txt")
    assert.strictEqual(safe(`a<b>c:d"e|f?g*h.txt`), "a_b_c_d_e_f_g_h.txt")
  })

  it("removes NUL, CR, LF and other control characters: report\\r\\n.pdf is report.pdf", () => {
    assert.strictEqual(safe("report\r\n.pdf"), "report.pdf")
    assert.strictEqual(safe("evil.exe\u0000.txt"), "evil.exe.txt")
    assert.strictEqual(safe("a\u0001\u001f\u007f\u0085\u009fb\tc.txt"), "abc.txt")
  })

  it("removes bidi overrides, isolates and zero-width characters: evil\\u202Etxt.exe is eviltxt.exe", () => {
    assert.strictEqual(safe("evil\u202Etxt.exe"), "eviltxt.exe")
    assert.strictEqual(safe("\u2066a\u2067b\u2068c\u2069\u202A\u202B\u202C\u202D.txt"), "abc.txt")
    assert.strictEqual(safe("pay\u200Bpal\u200C\u200D\uFEFF.com"), "paypal.com")
  })

  it("normalises to NFC: cafe + U+0301 is café in one code point", () => {
    assert.strictEqual(safe("cafe\u0301.txt"), "caf\u00e9.txt")
  })

  it("replaces a lone surrogate with U+FFFD", () => {
    assert.strictEqual(safe("a\uD800b.txt"), "a\uFFFDb.txt")
  })

  it("trims leading and trailing whitespace and trailing dots: '  report.pdf . . ' is report.pdf", () => {
    assert.strictEqual(safe("  report.pdf . . "), "report.pdf")
    assert.strictEqual(safe("name..."), "name")
    assert.strictEqual(safe("\u3000name\u00a0"), "name")
  })

  it("replaces a leading dot with _: .bashrc is _bashrc, ...x is _..x", () => {
    assert.strictEqual(safe(".bashrc"), "_bashrc")
    assert.strictEqual(safe(" .ssh"), "_ssh")
    assert.strictEqual(safe("...x"), "_..x")
  })

  it("refuses . and .. as they are", () => {
    assert.include(refusal("."), "not a file name")
    assert.include(refusal(".."), "not a file name")
    assert.include(refusal("a/.."), "not a file name")
  })

  it("refuses names left empty: '', '   ', '...', 'dir/', NUL and bidi only", () => {
    for (const name of ["", "   ", "...", " . . ", "dir/", "..\\", "\u0000\u202E\r\n"]) {
      assert.strictEqual(refusal(name), "the name is empty after removing unsafe characters", JSON.stringify(name))
    }
  })

  it("prefixes Windows device names with _: CON, nul.txt, Com1.tar.gz, LPT9, con .txt, COM¹", () => {
    assert.strictEqual(safe("CON"), "_CON")
    assert.strictEqual(safe("nul.txt"), "_nul.txt")
    assert.strictEqual(safe("Com1.tar.gz"), "_Com1.tar.gz")
    assert.strictEqual(safe("LPT9"), "_LPT9")
    assert.strictEqual(safe("aux."), "_aux")
    assert.strictEqual(safe("con .txt"), "_con .txt")
    assert.strictEqual(safe("COM\u00b9"), "_COM\u00b9")
    assert.strictEqual(safe("conout$"), "_conout$")
  })

  it("leaves names that only start like a device name: CONSOLE.txt, com10, nullable", () => {
    for (const name of ["CONSOLE.txt", "com10", "nullable", "prn-report.pdf", "lpt"]) {
      assert.strictEqual(safe(name), name)
    }
  })

  it("shortens a 600-byte name of 3-byte characters to at most 255 bytes, keeping .gz of .tar.gz", () => {
    const name = "日".repeat(200) + ".tar.gz"
    assert.strictEqual(utf8Length(name), 607)
    const result = safe(name)
    assert.isAtMost(utf8Length(result), 255)
    assert.isTrue(result.endsWith(".gz"))
    assert.isFalse(result.endsWith(".tar.gz"))
    assert.strictEqual(result, "日".repeat(84) + ".gz")
  })

  it("shortens a 600-byte emoji name to 63 whole emoji and .gz, 255 bytes", () => {
    const result = safe("😀".repeat(150) + ".tar.gz")
    assert.strictEqual(result, "😀".repeat(63) + ".gz")
    assert.strictEqual(utf8Length(result), 255)
    assert.strictEqual(result, result.toWellFormed())
  })

  it("never splits a flag emoji: 🇫🇷×10.txt at maxBytes 24 keeps 2 flags (20 bytes), not 5 regional indicators", () => {
    assert.strictEqual(safe("🇫🇷".repeat(10) + ".txt", { maxBytes: 24 }), "🇫🇷🇫🇷.txt")
  })

  it("drops an extension of more than 16 characters when shortening: a×300.b×20 is a×255", () => {
    assert.strictEqual(safe("a".repeat(300) + "." + "b".repeat(20)), "a".repeat(255))
    assert.strictEqual(safe("a".repeat(300) + "." + "b".repeat(16)), "a".repeat(238) + "." + "b".repeat(16))
  })

  it("honours maxBytes: abcdef.txt at 8 bytes is abcd.txt, at 3 bytes is abc", () => {
    assert.strictEqual(safe("abcdef.txt", { maxBytes: 8 }), "abcd.txt")
    assert.strictEqual(safe("abcdef.txt", { maxBytes: 3 }), "abc")
  })

  it("re-prefixes a device name exposed by shortening: CONSOLE.txt at 7 bytes is _CO.txt", () => {
    assert.strictEqual(safe("CONSOLE.txt", { maxBytes: 7 }), "_CO.txt")
  })

  it("refuses when no character fits in maxBytes (日 needs 3 bytes, maxBytes 2) or maxBytes is not a positive integer", () => {
    assert.include(refusal("日", { maxBytes: 2 }), "fits in 2 bytes")
    assert.include(refusal("a", { maxBytes: 0 }), "maxBytes")
    assert.include(refusal("a", { maxBytes: 1.5 }), "maxBytes")
  })

  it("is idempotent over hostile inputs", () => {
    const hostile = [
      "../../etc/passwd",
      "..\\..\\boot.ini",
      "C:\\x\\y.txt",
      "evil\u202Etxt.exe",
      " .hidden. ",
      "CON",
      "con.txt.",
      "a:b?c*d",
      "report\r\n.pdf",
      "\u0000x",
      "cafe\u0301",
      "<\u0338.txt",
      "😀".repeat(150) + ".tar.gz",
      "日本語".repeat(200) + ".tar.gz",
      "x".repeat(254) + " .",
      "a".repeat(300) + "." + "b".repeat(20),
      "\uD83D" + "x".repeat(300),
      "CONSOLE" + "e\u0301".repeat(200) + ".txt"
    ]
    for (const maxBytes of [255, 16, 7]) {
      for (const name of hostile) {
        const once = FileName.sanitize(name, { maxBytes })
        if (!once.ok) continue
        assert.deepStrictEqual(
          FileName.sanitize(once.name, { maxBytes }),
          once,
          `${JSON.stringify(name)} at ${maxBytes}`
        )
      }
    }
  })
})

describe("choose", () => {
  const url = "https://example.com/files/from-url.bin?id=1"

  it("prefers the Content-Disposition name: report.pdf over from-url.bin", () => {
    assert.deepStrictEqual(
      FileName.choose({ contentDisposition: `attachment; filename="report.pdf"`, url }),
      { ok: true, name: "report.pdf" }
    )
  })

  it("sanitises the Content-Disposition name: ../../etc/passwd gives passwd", () => {
    assert.deepStrictEqual(
      FileName.choose({ contentDisposition: `attachment; filename="../../etc/passwd"`, url }),
      { ok: true, name: "passwd" }
    )
  })

  it("uses the URL when there is no header, no filename in it, or a refused one (..)", () => {
    for (
      const contentDisposition of [undefined, "attachment", `attachment; filename=".."`, `inline; filename="\r\n"`]
    ) {
      assert.deepStrictEqual(FileName.choose({ contentDisposition, url }), { ok: true, name: "from-url.bin" })
    }
  })

  it("falls back to download, or to the given fallback, when neither gives a name", () => {
    assert.deepStrictEqual(FileName.choose({ url: "https://example.com/" }), { ok: true, name: "download" })
    assert.deepStrictEqual(
      FileName.choose({
        contentDisposition: `attachment; filename="."`,
        url: new URL("https://example.com/%00"),
        fallback: "file.bin"
      }),
      { ok: true, name: "file.bin" }
    )
  })

  it("applies maxBytes to the chosen name: abcdef.txt at 8 bytes is abcd.txt", () => {
    assert.deepStrictEqual(
      FileName.choose({ contentDisposition: `attachment; filename="abcdef.txt"`, url, maxBytes: 8 }),
      { ok: true, name: "abcd.txt" }
    )
  })
})

describe("resolveInside", () => {
  const folder = Path.resolve("/tmp/downloads")

  it("resolves a name inside the folder, with or without a trailing separator", () => {
    assert.strictEqual(FileName.resolveInside(folder, "a.txt"), Path.join(folder, "a.txt"))
    assert.strictEqual(FileName.resolveInside(folder + Path.sep, "a.txt"), Path.join(folder, "a.txt"))
    assert.strictEqual(FileName.resolveInside(folder, "sub/b.txt"), Path.join(folder, "sub", "b.txt"))
  })

  it("accepts names that merely start with two dots: ..foo", () => {
    assert.strictEqual(FileName.resolveInside(folder, "..foo"), Path.join(folder, "..foo"))
  })

  it("resolves a relative folder against the working directory", () => {
    assert.strictEqual(FileName.resolveInside("dl", "a.txt"), Path.resolve("dl", "a.txt"))
  })

  it("refuses escapes: ../a.txt, /etc/passwd, sub/../../x, a sibling folder with the same prefix", () => {
    for (const name of ["../a.txt", "/etc/passwd", "sub/../../x", "../downloads-evil/x", ".."]) {
      assert.strictEqual(FileName.resolveInside(folder, name), undefined, name)
    }
  })

  it("refuses the folder itself: '', '.', 'sub/..'", () => {
    for (const name of ["", ".", "sub/..", "./"]) {
      assert.strictEqual(FileName.resolveInside(folder, name), undefined, name)
      assert.strictEqual(FileName.resolveInside(folder + Path.sep, name), undefined, name)
    }
  })
})

const hasControl = (text: string): boolean =>
  [...text].some((char) => {
    const code = char.codePointAt(0)!
    return code <= 0x1f || (code >= 0x7f && code <= 0x9f)
  })

/** mulberry32: a small deterministic generator, so that a failure reproduces. */
const generator = (seed: number) => {
  let state = seed >>> 0
  return (): number => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

describe("properties over random hostile names", () => {
  const alphabet = [
    "/",
    "\\",
    ".",
    "..",
    " ",
    "\u0000",
    "\r",
    "\n",
    "\t",
    "\u007f",
    "\u0085",
    "\u202E",
    "\u2066",
    "\u200B",
    "\u200D",
    "\uFEFF",
    "<",
    ">",
    ":",
    "\"",
    "|",
    "?",
    "*",
    "%2F",
    "a",
    "Z",
    "CON",
    "nul",
    "com1",
    "é",
    "e\u0301",
    "\u0301",
    "\u0338",
    "日",
    "\u1100",
    "\u1161",
    "😀",
    "🇫",
    "🇷",
    "\uD800",
    "\uDC00",
    "\u00a0",
    "\u3000",
    "~",
    ".tar.gz"
  ]

  it("5000 seeded random names: no separator, NUL or control, never . or .., within maxBytes, idempotent, inside the folder", () => {
    const random = generator(20240601)
    const folder = Path.resolve("/tmp/downloads")
    let accepted = 0
    for (let i = 0; i < 5000; i++) {
      const long = random() < 0.1
      const length = Math.floor(random() * (long ? 200 : 24))
      let name = ""
      for (let j = 0; j < length; j++) name += alphabet[Math.floor(random() * alphabet.length)]
      const maxBytes = [255, 255, 32, 9, 4][Math.floor(random() * 5)]!
      const result = FileName.sanitize(name, { maxBytes })
      if (!result.ok) continue
      accepted++
      const out = result.name
      const label = `case ${i}: ${JSON.stringify(name)} at ${maxBytes} gave ${JSON.stringify(out)}`
      assert.isFalse(out.includes("/") || out.includes("\\"), label)
      assert.isFalse(hasControl(out), label)
      assert.notInclude([".", "..", ""], out, label)
      assert.isFalse(out.startsWith(".") || out.endsWith(".") || out.trim() !== out, label)
      assert.isAtMost(utf8Length(out), maxBytes, label)
      assert.strictEqual(out, out.toWellFormed(), label)
      assert.deepStrictEqual(FileName.sanitize(out, { maxBytes }), result, label)
      const resolved = FileName.resolveInside(folder, out)
      assert.strictEqual(resolved, Path.join(folder, out), label)
    }
    assert.isAbove(accepted, 3000)
  })
})
