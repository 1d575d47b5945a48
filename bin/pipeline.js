#!/usr/bin/env node
// Pipeline files and stages are TypeScript; tsx's loader lets Node 20 import them directly.
import { register } from "tsx/esm/api"

register()
await import("../src/cli/main.ts")
