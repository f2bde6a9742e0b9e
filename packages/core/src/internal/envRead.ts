/**
 * Reading a package's settings from a `ConfigProvider` for `Settings.read`:
 * the fields a schema reads, lists given as one value separated by commas,
 * and the problems of what cannot be read, named by variable.
 */
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as SchemaAST from "effect/SchemaAST"
import * as ConfigProblem from "../ConfigProblem.ts"

/** Each field `Config.schema` reads for a struct schema, by variable name after the prefix, and its shape. */
export const fieldsOf = (
  schema: Schema.Top
): ReadonlyArray<{ readonly name: string; readonly kind: "value" | "list" | "record" }> => {
  const out: Array<{ readonly name: string; readonly kind: "value" | "list" | "record" }> = []
  const walk = (ast: SchemaAST.AST, name: string): void => {
    const encoded = SchemaAST.toEncoded(ast)
    if (encoded._tag === "Objects") {
      for (const property of encoded.propertySignatures) {
        walk(property.type, ConfigProblem.variableName(name, [property.name]))
      }
      if (encoded.indexSignatures.length > 0) out.push({ name, kind: "record" })
    } else if (encoded._tag === "Arrays") {
      out.push({ name, kind: "list" })
    } else if (encoded._tag === "Union" && encoded.types.some((member) => member._tag === "Objects")) {
      for (const member of encoded.types) walk(member, name)
    } else {
      out.push({ name, kind: "value" })
    }
  }
  walk(schema.ast, "")
  return out
}

/** A list given as one value, `500, 502,503`: its items, trimmed, empty ones left out. */
export const items = (value: string): ReadonlyArray<string> =>
  value.split(",").map((item) => item.trim()).filter((item) => item !== "")

/** A list's node: one value separated by commas is a list of its items; one variable per item stays as it is. */
export const listNode = (node: ConfigProvider.Node | undefined): ConfigProvider.Node | undefined =>
  node?._tag === "Value" ? ConfigProvider.makeArray(items(node.value).length) : node

export const itemNode = (value: string, index: number): ConfigProvider.Node | undefined => {
  const item = items(value)[index]
  return item === undefined ? undefined : ConfigProvider.makeValue(item)
}

export const readOnce = <S extends Schema.Top>(
  schema: S,
  prefix: string,
  provider: ConfigProvider.ConfigProvider
): Effect.Effect<S["Encoded"], Config.ConfigError> => {
  const cased = ConfigProvider.constantCase(provider)
  const perWord = ConfigProvider.mapInput(
    cased,
    (path) =>
      path.flatMap((segment): ReadonlyArray<string | number> =>
        typeof segment === "number" ? [segment] : segment.split("_")
      )
  )
  return Config.schema(Schema.toEncoded(schema), prefix).pipe(
    Config.withDefault({} as S["Encoded"]),
    Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.orElse(cased, perWord))
  )
}

/** The problems of a `ConfigError`, with each value as the provider holds it. */
export const problemsOf = (
  error: Config.ConfigError,
  provider: ConfigProvider.ConfigProvider,
  ast: SchemaAST.AST,
  lists: ReadonlySet<string>
): Effect.Effect<ReadonlyArray<ConfigProblem.ConfigProblem>> => {
  if (!Schema.isSchemaError(error.cause)) {
    return Effect.succeed([{
      setting: "the configuration",
      expected: `a source that can be read (${error.cause.message})`
    }])
  }
  const issue = error.cause.issue
  return Effect.gen(function*() {
    const paths = new Map<string, ReadonlyArray<PropertyKey>>()
    const named = ConfigProblem.fromIssue(issue, {
      setting: (path) => {
        const name = ConfigProblem.variableName("", path)
        paths.set(name, path)
        return name
      },
      received: () => undefined
    })
    const problems: Array<ConfigProblem.ConfigProblem> = []
    for (const draft of named) {
      // "two" for a number: say what the field takes ("an integer of at least 1"), not only "a number".
      const field = draft.expected === "a number"
        ? expectedAt(ast, (paths.get(draft.setting) ?? []).slice(1))
        : undefined
      const problem = field === undefined ? draft : { ...draft, expected: field }
      const value = yield* rawValue(provider, problem.setting)
      const list = /^(.*)_(\d+)$/.exec(problem.setting)
      if (value === undefined && list !== null && lists.has(list[1]!)) {
        // An item of a list given as one value: the problem is the list's, the item named.
        const whole = (yield* rawValue(provider, list[1]!)) ?? ""
        const item = items(whole)[Number(list[2])] ?? ""
        problems.push({
          setting: list[1]!,
          received: ConfigProblem.show(whole),
          expected: `${problem.expected} in every item (${ConfigProblem.show(item)} is not)`
        })
      } else {
        problems.push(value === undefined ? problem : { ...problem, received: ConfigProblem.show(value) })
      }
    }
    return problems
  })
}

/** What the field at `path` of a struct schema takes, from its last check's `expected` annotation or its own. */
const expectedAt = (ast: SchemaAST.AST, path: ReadonlyArray<PropertyKey>): string | undefined => {
  let current = ast
  for (const segment of path) {
    const next: SchemaAST.AST | undefined = current._tag === "Objects"
      ? current.propertySignatures.find((property) => property.name === segment)?.type
      : current._tag === "Arrays"
      ? current.rest[0]
      : undefined
    if (next === undefined) return undefined
    current = next
  }
  const last = current.checks?.[current.checks.length - 1]
  const expected = last?.annotations?.expected ?? current.annotations?.expected
  return typeof expected === "string" ? expected : undefined
}

/** The value of one variable as the provider holds it (the environment joins path segments with `_`). */
const rawValue = (provider: ConfigProvider.ConfigProvider, name: string): Effect.Effect<string | undefined> =>
  provider.load([name]).pipe(
    Effect.map((node) => node?.value),
    Effect.orElseSucceed(() => undefined)
  )
