/**
 * `tableFrom` builds exactly the declared schema from plain values or one-chunk vectors, and
 * refuses what it cannot keep whole rather than dropping rows.
 */
import * as arrow from "apache-arrow"
import { describe, expect, it } from "vitest"
import { nullable, tableFrom, tableSchema } from "../../src/index.ts"

const schema = tableSchema({ n: new arrow.Int32(), tags: nullable(new arrow.List(new arrow.Field("item", new arrow.Utf8(), true))) })

describe("tableFrom", () => {
  it("keeps the declared schema, nullability included, from plain arrays", () => {
    const table = tableFrom(schema, { n: [1, 2], tags: [["a", "b"], null] })
    expect(table.schema.fields.map((f) => [f.name, String(f.type), f.nullable])).toEqual([
      ["n", "Int32", false],
      ["tags", "List<Utf8>", true]
    ])
    expect(table.getChild("tags")!.get(0)!.toArray()).toEqual(["a", "b"])
    expect(table.getChild("tags")!.get(1)).toBeNull()
  })

  it("refuses nulls in a column declared not nullable, and a vector of several chunks", () => {
    expect(() => tableFrom(schema, { n: [1, null], tags: [null, null] })).toThrow('column "n" is not nullable')
    const chunked = arrow.makeVector([arrow.makeVector(new Int32Array([1])).data[0]!, arrow.makeVector(new Int32Array([2])).data[0]!])
    expect(() => tableFrom(schema, { n: chunked, tags: [null, null] })).toThrow('column "n" has 2 chunks, expected one')
  })
})
