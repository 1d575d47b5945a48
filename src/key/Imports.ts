/**
 * Finds the module specifiers a JavaScript/TypeScript source imports: static imports, re-exports,
 * side-effect imports, `import()` and `require()` with a string literal.
 *
 * A small scanner rather than the TypeScript compiler: loading `typescript` costs more than a cached
 * run is allowed to take. It skips comments and reads string literals, so a commented-out import is
 * not a dependency. Template literals are skipped whole; a computed specifier is not found (the
 * stage's `extraCode` covers such files).
 */

const isIdentifierChar = (c: string): boolean => /[A-Za-z0-9_$]/.test(c)

type Token = { readonly kind: "word" | "string" | "punct"; readonly text: string }

const tokenize = (source: string): Array<Token> => {
  const tokens: Array<Token> = []
  let i = 0
  const n = source.length
  while (i < n) {
    const c = source[i]!
    if (c === "/" && source[i + 1] === "/") {
      const end = source.indexOf("\n", i)
      i = end === -1 ? n : end
    } else if (c === "/" && source[i + 1] === "*") {
      const end = source.indexOf("*/", i + 2)
      i = end === -1 ? n : end + 2
    } else if (c === "\"" || c === "'") {
      let j = i + 1
      let text = ""
      while (j < n && source[j] !== c && source[j] !== "\n") {
        if (source[j] === "\\") {
          text += source[j + 1] ?? ""
          j += 2
        } else {
          text += source[j]
          j += 1
        }
      }
      tokens.push({ kind: "string", text })
      i = j + 1
    } else if (c === "`") {
      let j = i + 1
      while (j < n && source[j] !== "`") j += source[j] === "\\" ? 2 : 1
      tokens.push({ kind: "punct", text: "`" })
      i = j + 1
    } else if (isIdentifierChar(c)) {
      let j = i + 1
      while (j < n && isIdentifierChar(source[j]!)) j += 1
      tokens.push({ kind: "word", text: source.slice(i, j) })
      i = j
    } else if (/\s/.test(c)) {
      i += 1
    } else {
      tokens.push({ kind: "punct", text: c })
      i += 1
    }
  }
  return tokens
}

/** Specifiers imported by `source`, in order of appearance, without duplicates. */
export const importSpecifiers = (source: string): Array<string> => {
  const tokens = tokenize(source)
  const found = new Set<string>()
  for (let k = 0; k < tokens.length; k++) {
    const token = tokens[k]!
    if (token.kind !== "string") continue
    const previous = tokens[k - 1]
    const beforeParen = tokens[k - 2]
    const isStatic = previous?.kind === "word" && (previous.text === "from" || previous.text === "import")
    const isCall = previous?.text === "(" && beforeParen?.kind === "word" &&
      (beforeParen.text === "import" || beforeParen.text === "require")
    if (isStatic || isCall) found.add(token.text)
  }
  return [...found]
}
