/**
 * How two Arrow schemas differ, for the wiring check of a pipeline (an output's declared table
 * schema against the input it is given to) and the check of the tables a stage produces. Works on
 * the schemas' shapes only, so pipeline loading does not import apache-arrow.
 */

interface TypeLike {
  readonly typeId: number
  readonly children?: ReadonlyArray<FieldLike> | null
}

interface FieldLike {
  readonly name: string
  readonly nullable: boolean
  readonly type: TypeLike
}

interface SchemaLike {
  readonly fields: ReadonlyArray<FieldLike>
}

/**
 * Structural type equality. Not `arrow.util.compareTypes`: it compares classes, so the `Int32` a
 * stage declares and the `Int_` of bit width 32 that IPC decoding makes are unequal to it.
 */
const sameType = (a: TypeLike, b: TypeLike): boolean => {
  if (a.typeId !== b.typeId || String(a) !== String(b)) return false
  const ca = a.children ?? []
  const cb = b.children ?? []
  return ca.length === cb.length &&
    ca.every((child, i) => child.name === cb[i]!.name && child.nullable === cb[i]!.nullable && sameType(child.type, cb[i]!.type))
}

const describeField = (field: FieldLike): string => `${field.name}: ${String(field.type)}${field.nullable ? " (nullable)" : ""}`

/** A schema as people read it: `[input_ids: List<Int32>, labels: List<Int32>]`. */
export const describeSchema = (schema: SchemaLike): string => `[${schema.fields.map(describeField).join(", ")}]`

/** The first difference between the schema a reader expects and the one it gets, if any. */
export const schemaMismatch = (expected: SchemaLike, got: SchemaLike): string | undefined => {
  const names = (fields: ReadonlyArray<FieldLike>) => fields.map((f) => f.name).join(", ")
  if (expected.fields.length !== got.fields.length) {
    return `expected columns [${names(expected.fields)}], got [${names(got.fields)}]`
  }
  for (let i = 0; i < expected.fields.length; i++) {
    const want = expected.fields[i]!
    const have = got.fields[i]!
    if (want.name !== have.name || want.nullable !== have.nullable || !sameType(want.type, have.type)) {
      return `column ${i}: expected ${describeField(want)}, got ${describeField(have)}`
    }
  }
  return undefined
}
