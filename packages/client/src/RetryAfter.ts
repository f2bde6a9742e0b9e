/**
 * Parsing of `Retry-After` (RFC 9110, section 10.2.3): a number of seconds or
 * an HTTP-date in any of its three forms (IMF-fixdate, RFC 850, asctime).
 *
 * Malformed values (`-3`, `120junk`, an impossible date) parse to `undefined`,
 * so callers fall back to their own backoff instead of trusting them.
 *
 * @since 0.1.0
 */

const secondsPattern = /^\d+$/
const months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
const imfFixdate = /^(?:mon|tue|wed|thu|fri|sat|sun), (\d{2}) ([a-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) gmt$/i
const rfc850 =
  /^(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday), (\d{2})-([a-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) gmt$/i
const asctime = /^(?:mon|tue|wed|thu|fri|sat|sun) ([a-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/i

/** Builds a UTC time, or `undefined` when a field is out of range (31 February and the like). */
const utc = (
  year: number,
  monthName: string,
  day: number,
  hour: number,
  minute: number,
  second: number
): number | undefined => {
  const month = months.indexOf(monthName.toLowerCase())
  if (month < 0 || hour > 23 || minute > 59 || second > 60) return undefined
  const time = Date.UTC(year, month, day, hour, minute, second)
  const check = new Date(time)
  return check.getUTCDate() === day && check.getUTCMonth() === month ? time : undefined
}

/**
 * Parses an HTTP-date to milliseconds since the epoch.
 *
 * @category parsing
 * @since 0.1.0
 */
export const parseHttpDate = (value: string): number | undefined => {
  const text = value.trim()
  let match = imfFixdate.exec(text)
  if (match !== null) {
    return utc(Number(match[3]), match[2]!, Number(match[1]), Number(match[4]), Number(match[5]), Number(match[6]))
  }
  match = rfc850.exec(text)
  if (match !== null) {
    // RFC 9110: a two-digit year more than 50 years in the future is in the past century.
    const twoDigits = Number(match[3])
    const thisYear = new Date().getUTCFullYear()
    let year = Math.floor(thisYear / 100) * 100 + twoDigits
    if (year > thisYear + 50) year -= 100
    return utc(year, match[2]!, Number(match[1]), Number(match[4]), Number(match[5]), Number(match[6]))
  }
  match = asctime.exec(text)
  if (match !== null) {
    return utc(
      Number(match[6]),
      match[1]!,
      Number(match[2]!.trim()),
      Number(match[3]),
      Number(match[4]),
      Number(match[5])
    )
  }
  return undefined
}

/**
 * The delay a `Retry-After` value asks for, in milliseconds from `now`
 * (epoch milliseconds). A date in the past is a delay of 0. Malformed or
 * negative values are `undefined`.
 *
 * @category parsing
 * @since 0.1.0
 */
export const parse = (value: string | undefined | null, now: number): number | undefined => {
  if (value === undefined || value === null) return undefined
  const text = value.trim()
  if (secondsPattern.test(text)) {
    const seconds = Number(text)
    return Number.isSafeInteger(seconds) ? seconds * 1000 : undefined
  }
  const date = parseHttpDate(text)
  return date === undefined ? undefined : Math.max(0, date - now)
}
