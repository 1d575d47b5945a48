/**
 * A row format: how to recognise a row of that format and how to turn it into a conversation.
 */
import type { Normalised } from "./conversation.ts"

/** The formats the load stage reads. */
export const formatNames = ["messages", "prompt_completion", "alpaca", "sharegpt"] as const

/** One of {@link formatNames}. */
export type FormatName = (typeof formatNames)[number]

/** Field names a format reads where datasets disagree (GSM8K calls prompt/completion question/answer). */
export interface FormatOptions {
  readonly promptField: string
  readonly completionField: string
}

/** One row format. */
export interface RowFormat {
  readonly name: FormatName
  /** Whether a row has this format's signature keys (used to detect the format of a file). */
  readonly matches: (row: Record<string, unknown>, options: FormatOptions) => boolean
  readonly normalise: (row: Record<string, unknown>, options: FormatOptions) => Normalised
}
