import { Schema } from "effect"

/**
 * A conversation that cannot be rendered or whose trained spans cannot be found. `source` is the
 * `file:line` of the row (empty for problems with the template itself).
 */
export class ChatTemplateError extends Schema.TaggedError<ChatTemplateError>()("ChatTemplateError", {
  source: Schema.String,
  message: Schema.String
}) {
  /** `file:line: message`, the one-line form users see. */
  get detail(): string {
    return this.source === "" ? this.message : `${this.source}: ${this.message}`
  }
}
