/**
 * User-info in a URL (`http://user:pass@host/`): never sent in the URL. It is
 * taken out of the URL and turned into an `Authorization: Basic` value
 * (percent-decoded, as curl does), which the request URL and a same-origin
 * redirect's `Location` may use; who uses it, and when, is decided by them.
 */

/** A user name or password from a URL, percent-decoded (as written when an escape is broken). */
const decode = (text: string): string => {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

/**
 * Removes `url`'s user-info, in place, and returns it as an
 * `Authorization: Basic` value; undefined when the URL has none.
 */
export const take = (url: URL): string | undefined => {
  if (url.username === "" && url.password === "") return undefined
  const pair = `${decode(url.username)}:${decode(url.password)}`
  url.username = ""
  url.password = ""
  return `Basic ${Buffer.from(pair, "utf8").toString("base64")}`
}
