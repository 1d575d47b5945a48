/**
 * Compile-time proof that handles are typed: `tsc --noEmit` (part of the test command) fails if any
 * `@ts-expect-error` below stops being an error.
 */
import * as arrow from "apache-arrow"
import { Effect, Schema } from "effect"
import { Blob, definePipeline, defineStage, nullable, Optional, Table, tableSchema } from "../../src/index.ts"

const lines = tableSchema({ line: new arrow.Utf8() })
const lengths = new arrow.Schema<{ length: arrow.Int32 }>([new arrow.Field("length", new arrow.Int32(), false)])
const linesPlus = tableSchema({ line: new arrow.Utf8(), extra: nullable(new arrow.Utf8()) })

const produceLines = defineStage({
  name: "produce",
  module: import.meta.url,
  config: Schema.Struct({}),
  inputs: { text: Blob() },
  outputs: { lines: Table(lines), more: Table(linesPlus) },
  run: (ctx) => Effect.die(ctx)
})

const consumeLengths = defineStage({
  name: "consume",
  module: import.meta.url,
  config: Schema.Struct({ n: Schema.Number }),
  inputs: { lengths: Table(lengths), extra: Optional(Blob()) },
  outputs: { report: Blob() },
  run: (ctx) => Effect.die(ctx)
})

const consumeLines = defineStage({
  name: "consumeLines",
  module: import.meta.url,
  config: Schema.Struct({}),
  inputs: { lines: Table(lines) },
  outputs: { report: Blob() },
  run: (ctx) => Effect.die(ctx)
})

export default definePipeline({ name: "typed" }, (p) => {
  const text = p.file("a.txt")
  const produced = p.add(produceLines, { inputs: { text } })
  p.add(consumeLines, { inputs: { lines: produced.lines } })
  // @ts-expect-error a table with different columns does not fit
  p.add(consumeLengths, { inputs: { lengths: produced.lines }, config: { n: 1 } })
  // @ts-expect-error a table with extra columns does not fit either
  p.add(consumeLines, { name: "b", inputs: { lines: produced.more } })
  // @ts-expect-error a blob does not fit a table input
  p.add(consumeLines, { name: "c", inputs: { lines: text } })
  // @ts-expect-error a required input may not be left out
  p.add(consumeLines, { name: "d", inputs: {} })
  const lengthsHandle = p.add(consumeLengths, {
    name: "e",
    inputs: { lengths: undefined as never },
    config: { n: 1 }
  }).report
  // @ts-expect-error the config is checked against the stage's Schema
  p.add(consumeLengths, { name: "f", inputs: { lengths: undefined as never }, config: { n: "x" } })
  // @ts-expect-error a blob output does not fit a table input
  p.add(consumeLines, { name: "i", inputs: { lines: lengthsHandle } })
  // @ts-expect-error a table does not fit an optional blob input
  p.add(consumeLengths, { name: "g", inputs: { lengths: undefined as never, extra: produced.lines }, config: { n: 1 } })
  // @ts-expect-error an unknown input name is rejected
  p.add(consumeLines, { name: "h", inputs: { lines: produced.lines, bogus: text } })
})
