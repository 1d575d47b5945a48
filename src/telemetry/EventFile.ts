/**
 * TensorBoard event files in a run's telemetry folder: `events.out.tfevents.<time>.<host>.<pid>`
 * (TensorBoard reads every file whose name holds "tfevents"), TFRecords of `Event` messages, the
 * first naming the file version. Records are written synchronously as they come, so TensorBoard
 * follows a run live and a killed run keeps every step it reported.
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, writeSync } from "node:fs"
import { hostname } from "node:os"
import { join } from "node:path"
import { decodeEvent, encodeEvent } from "./Event.ts"
import type { Event } from "./Event.ts"
import { BadRecord, frame, unframe } from "./TfRecord.ts"

/** Appends events to one new event file. */
export interface EventWriter {
  readonly path: string
  readonly write: (event: Event) => void
  readonly close: () => void
}

/** Creates a new event file in `dir` (which must exist) and writes its file-version record. */
export const openEventFile = (dir: string, wallTime = Date.now() / 1000): EventWriter => {
  const path = join(dir, `events.out.tfevents.${Math.floor(wallTime)}.${hostname()}.${process.pid}`)
  const fd = openSync(path, "wx")
  const write = (event: Event) => {
    writeSync(fd, frame(encodeEvent(event)))
  }
  write({ wallTime, step: 0, fileVersion: "brain.Event:2" })
  return { path, write, close: () => closeSync(fd) }
}

/** The event files of a folder, in name order (which is creation-time order). */
export const eventFiles = (dir: string): Array<string> =>
  existsSync(dir) ? readdirSync(dir).filter((name) => name.includes("tfevents")).sort().map((name) => join(dir, name)) : []

/** One point of a scalar series. */
export interface Point {
  readonly step: number
  readonly value: number
  readonly wallTime: number
}

/** What a folder's event files hold: scalar series and texts, by tag. */
export interface RunTelemetry {
  readonly scalars: ReadonlyMap<string, ReadonlyArray<Point>>
  readonly texts: ReadonlyMap<string, ReadonlyArray<{ readonly step: number; readonly text: string }>>
}

/** Reads every event file of `dir`; throws BadRecord naming the file that is not a TFRecord file. */
export const readEventFolder = (dir: string): RunTelemetry => {
  const scalars = new Map<string, Array<Point>>()
  const texts = new Map<string, Array<{ step: number; text: string }>>()
  const push = <A>(map: Map<string, Array<A>>, tag: string, item: A) => {
    const list = map.get(tag)
    if (list === undefined) map.set(tag, [item])
    else list.push(item)
  }
  const records = (file: string) => {
    try {
      return unframe(readFileSync(file))
    } catch (error) {
      throw error instanceof BadRecord ? new BadRecord({ offset: error.offset, message: `${file}: ${error.message}` }) : error
    }
  }
  for (const file of eventFiles(dir)) {
    for (const record of records(file)) {
      const event = decodeEvent(record)
      for (const value of event.values ?? []) {
        if ("scalar" in value) push(scalars, value.tag, { step: event.step, value: value.scalar, wallTime: event.wallTime })
        else push(texts, value.tag, { step: event.step, text: value.text })
      }
    }
  }
  return { scalars, texts }
}
