/**
 * Finds the module specifiers a JavaScript/TypeScript source imports: static imports, re-exports,
 * side-effect imports, `import()` and `require()` with a string literal.
 *
 * A small scanner rather than the TypeScript compiler: loading `typescript` costs more than a cached
 * run is allowed to take. It skips comments and reads string literals, so a commented-out import is
 * not a dependency. Template literals are skipped whole; a computed specifier is not found (the
 * stage's `extraCode` covers such files).
 */

/**
 * One token per match, tried in order: comments, string literals (an unterminated one ends at the
 * line), template literals (skipped whole), words, whitespace, any other single character.
 */
const token = /\/\/[^\n]*|\/\*[\s\S]*?(?:\*\/|$)|"((?:[^"\\\n]|\\[\s\S])*)"?|'((?:[^'\\\n]|\\[\s\S])*)'?|`(?:[^`\\]|\\[\s\S])*`?|[A-Za-z0-9_$]+|\s+|[\s\S]/g

/** Specifiers imported by `source`, in order of appearance, without duplicates. */
export const importSpecifiers = (source: string): Array<string> => {
  const found = new Set<string>()
  // The two significant tokens before the current one: `from "x"`, `import "x"`, `import("x")`.
  let previous = ""
  let beforePrevious = ""
  token.lastIndex = 0
  for (let match = token.exec(source); match !== null; match = token.exec(source)) {
    const [text, double, single] = match
    const first = text[0]!
    const isSpace = first <= " " || (first > "~" && /\s/.test(first))
    if (isSpace || text.startsWith("//") || text.startsWith("/*")) continue
    const string = double ?? single
    if (string !== undefined) {
      const isStatic = previous === "from" || previous === "import"
      const isCall = previous === "(" && (beforePrevious === "import" || beforePrevious === "require")
      if (isStatic || isCall) found.add(string.replace(/\\([\s\S])/g, "$1"))
    }
    beforePrevious = previous
    // A string or template never counts as `from`, `import` or `(` for the next token.
    previous = first === "\"" || first === "'" || first === "`" ? "" : text
  }
  return [...found]
}
