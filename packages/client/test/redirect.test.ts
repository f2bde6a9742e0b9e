/**
 * The redirect decision on its own (`internal/redirect.ts`): where one
 * redirect goes, with which method and body, and which targets are refused.
 * `redirects.test.ts` follows redirects over sockets.
 */
import { assert, describe, it } from "@effect/vitest"
import { bodyHeaders, decide, type Decision, redirectStatuses } from "../src/internal/redirect.ts"

const from = new URL("http://example.test:8080/a/b?q=1")
const secure = new URL("https://example.test/a/b")

/** The decision, which must be `Follow`. */
const follow = (decision: Decision) => {
  assert.strictEqual(decision._tag, "Follow", JSON.stringify(decision))
  if (decision._tag !== "Follow") throw new Error("unreachable")
  return { url: decision.url.href, method: decision.method, keepBody: decision.keepBody, cross: decision.crossOrigin }
}

describe("redirect statuses", () => {
  it("301, 302, 303, 307 and 308 redirect; 300, 304 and 305 do not", () => {
    for (const status of [301, 302, 303, 307, 308]) assert.isTrue(redirectStatuses.has(status), String(status))
    for (const status of [300, 304, 305, 306, 200, 309]) assert.isFalse(redirectStatuses.has(status), String(status))
  })

  it("a dropped body takes content-type, content-length, content-encoding and transfer-encoding with it", () => {
    assert.deepStrictEqual(bodyHeaders, ["content-type", "content-length", "content-encoding", "transfer-encoding"])
  })
})

describe("redirect.decide: method and body", () => {
  it("303 turns POST, PUT, DELETE and GET into GET without a body; HEAD stays HEAD", () => {
    for (const method of ["POST", "PUT", "DELETE", "GET"]) {
      assert.deepInclude(follow(decide(from, 303, "/next", method, false)), { method: "GET", keepBody: false })
    }
    assert.deepInclude(follow(decide(from, 303, "/next", "HEAD", false)), { method: "HEAD", keepBody: true })
  })

  it("301 and 302 turn POST into GET without a body, and keep PUT, PATCH, DELETE and GET with theirs", () => {
    for (const status of [301, 302]) {
      assert.deepInclude(follow(decide(from, status, "/next", "POST", false)), { method: "GET", keepBody: false })
      for (const method of ["PUT", "PATCH", "DELETE", "GET"]) {
        assert.deepInclude(follow(decide(from, status, "/next", method, false)), { method, keepBody: true })
      }
    }
  })

  it("307 and 308 keep every method and its body", () => {
    for (const status of [307, 308]) {
      for (const method of ["POST", "PUT", "PATCH", "DELETE", "GET", "HEAD"]) {
        assert.deepInclude(follow(decide(from, status, "/next", method, false)), { method, keepBody: true })
      }
    }
  })
})

describe("redirect.decide: the target", () => {
  it("a relative Location resolves against the URL redirected from; the fragment is dropped", () => {
    assert.deepInclude(follow(decide(from, 302, "c?x=2#part", "GET", false)), {
      url: "http://example.test:8080/a/c?x=2",
      cross: false
    })
    assert.deepInclude(follow(decide(from, 302, "/top", "GET", false)), {
      url: "http://example.test:8080/top",
      cross: false
    })
    assert.deepInclude(follow(decide(from, 302, "../up", "GET", false)), { url: "http://example.test:8080/up" })
    assert.deepInclude(follow(decide(from, 302, "", "GET", false)), { url: "http://example.test:8080/a/b?q=1" })
  })

  it("another host, port or scheme is cross-origin; a scheme-relative //host is too", () => {
    assert.isTrue(follow(decide(from, 302, "http://other.test:8080/x", "GET", false)).cross)
    assert.isTrue(follow(decide(from, 302, "http://example.test:8081/x", "GET", false)).cross)
    assert.isTrue(follow(decide(from, 302, "https://example.test:8080/x", "GET", false)).cross)
    assert.deepInclude(follow(decide(from, 302, "//other.test/x", "GET", false)), {
      url: "http://other.test/x",
      cross: true
    })
    assert.isFalse(follow(decide(from, 302, "HTTP://EXAMPLE.TEST:8080/x", "GET", false)).cross)
  })

  it("http to https is followed; https to http is refused as a downgrade unless allowDowngrade", () => {
    assert.deepInclude(follow(decide(from, 301, "https://example.test/x", "GET", false)), {
      url: "https://example.test/x",
      cross: true
    })
    assert.deepStrictEqual(decide(secure, 302, "http://example.test/x", "GET", false), {
      _tag: "Refuse",
      reason: "downgrade",
      location: "http://example.test/x"
    })
    assert.deepInclude(follow(decide(secure, 302, "http://example.test/x", "GET", true)), {
      url: "http://example.test/x",
      cross: true
    })
  })

  it("schemes other than http and https are refused, naming only the scheme", () => {
    for (const location of ["file:///etc/passwd", "javascript:alert(1)", "data:text/html,hi", "ftp://example.test/"]) {
      const decision = decide(from, 302, location, "GET", true)
      assert.strictEqual(decision._tag, "Refuse", location)
      if (decision._tag === "Refuse") {
        assert.strictEqual(decision.reason, "scheme")
        assert.strictEqual(decision.location, `${new URL(location).protocol}...`)
      }
    }
  })

  it("a Location with CR, LF or NUL, several joined by \", \", or one that is no URL is refused as invalid", () => {
    for (
      const location of [
        "/next\r\nSet-Cookie: a=1",
        "/next\rx",
        "/next\nx",
        "/next\u0000x",
        "/one, /two",
        "http://a.test/,\thttp://b.test/",
        "http://[::1"
      ]
    ) {
      assert.deepStrictEqual(decide(from, 302, location, "GET", false), {
        _tag: "Refuse",
        reason: "invalid-location",
        location
      })
    }
  })

  it("a comma without a space after it is part of a valid URL and is followed", () => {
    assert.deepInclude(follow(decide(from, 302, "/list?ids=1,2,3", "GET", false)), {
      url: "http://example.test:8080/list?ids=1,2,3"
    })
  })
})
