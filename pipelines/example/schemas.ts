/** Table schemas shared by the example pipeline's stages. */
import * as arrow from "apache-arrow"
import { tableSchema } from "../../src/index.ts"

/** One document per row. */
export const documentsSchema = tableSchema({ id: new arrow.Int32(), text: new arrow.Utf8() })

/** One word occurrence per row. */
export const wordsSchema = tableSchema({ id: new arrow.Int32(), word: new arrow.Utf8() })

/** Word frequencies, most frequent first. */
export const countsSchema = tableSchema({ word: new arrow.Utf8(), count: new arrow.Int32() })
