/**
 * The import scanner behind automatic code digests, checked against what TypeScript's own
 * `preProcessFile` (a parser we did not write) finds in the same sources.
 */
import ts from "typescript"
import { describe, expect, it } from "vitest"
import { importSpecifiers } from "../../src/key/Imports.ts"

const reference = (source: string): Array<string> => {
  const info = ts.preProcessFile(source, true, true)
  return [...new Set(info.importedFiles.map((file) => file.fileName))]
}

const sources = [
  `import { a } from "./a.ts"\nimport type { B } from './b.ts'\nexport { c } from "./c.ts"\nexport * from "../d.ts"\nimport "./side.ts"`,
  `// import { x } from "./commented.ts"\n/* import y from "./block.ts" */\nconst s = "import z from './string.ts'"\nimport real from "./real.ts"`,
  `const m = await import("./dynamic.ts")\nconst n = require("./required.cjs")\nimport * as ns from "effect"\nimport def, { named } from "node:fs"`,
  `import {\n  multi,\n  line\n} from "./multi.ts"\nconst t = \`template import "./not.ts"\`\nexport const v = 1`
]

describe("importSpecifiers", () => {
  for (const [index, source] of sources.entries()) {
    it(`finds the same specifiers as TypeScript (source ${index})`, () => {
      expect(importSpecifiers(source)).toEqual(reference(source))
    })
  }
})
