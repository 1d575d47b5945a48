/**
 * TensorBoard's `Event` message, encoded and decoded by protobufjs from the schema in
 * tensorboard.proto. Scalars are `simple_value` (a float32), as PyTorch's SummaryWriter writes them
 * for transformers' Trainer: every TensorBoard and `wandb sync --sync-tensorboard` reads them.
 */
import { readFileSync } from "node:fs"
import protobuf from "protobufjs"

const root = protobuf.parse(readFileSync(new URL("./tensorboard.proto", import.meta.url), "utf8")).root
const EventType = root.lookupType("tensorboard.Event")

/** TensorFlow's DT_STRING. */
const dtString = 7

/** One summary value: a scalar, or a text (markdown) tensor. */
export type Value =
  | { readonly tag: string; readonly scalar: number }
  | { readonly tag: string; readonly text: string }

/** An event as written and read here. */
export interface Event {
  readonly wallTime: number
  readonly step: number
  readonly fileVersion?: string
  readonly values?: ReadonlyArray<Value>
}

const encodeValue = (value: Value) =>
  "scalar" in value
    ? { tag: value.tag, simpleValue: value.scalar }
    : {
      tag: value.tag,
      metadata: { pluginData: { pluginName: "text" } },
      tensor: { dtype: dtString, tensorShape: {}, stringVal: [Buffer.from(value.text, "utf8")] }
    }

/** The protobuf bytes of `event`. */
export const encodeEvent = (event: Event): Uint8Array =>
  EventType.encode(EventType.fromObject({
    wallTime: event.wallTime,
    step: event.step,
    ...(event.fileVersion === undefined ? {} : { fileVersion: event.fileVersion }),
    ...(event.values === undefined ? {} : { summary: { value: event.values.map(encodeValue) } })
  })).finish()

interface Decoded {
  readonly wallTime?: number
  readonly step?: number
  readonly fileVersion?: string
  readonly summary?: {
    readonly value?: ReadonlyArray<{
      readonly tag?: string
      readonly simpleValue?: number
      readonly tensor?: { readonly dtype?: number; readonly stringVal?: ReadonlyArray<Uint8Array> }
    }>
  }
}

/** Decodes one event; values of other kinds than scalars and text (images, histograms) are left out. */
export const decodeEvent = (bytes: Uint8Array): Event => {
  const decoded = EventType.toObject(EventType.decode(bytes), { longs: Number }) as Decoded
  const values: Array<Value> = []
  for (const value of decoded.summary?.value ?? []) {
    const tag = value.tag ?? ""
    if (value.simpleValue !== undefined) values.push({ tag, scalar: value.simpleValue })
    else if (value.tensor?.dtype === dtString) {
      values.push({ tag, text: (value.tensor.stringVal ?? []).map((s) => Buffer.from(s).toString("utf8")).join("\n") })
    }
  }
  return {
    wallTime: decoded.wallTime ?? 0,
    step: decoded.step ?? 0,
    ...(decoded.fileVersion === undefined ? {} : { fileVersion: decoded.fileVersion }),
    ...(decoded.summary === undefined ? {} : { values })
  }
}
