/** One argument as a POSIX shell reads it back: as is when only safe characters, else single-quoted. */
export const shellWord = (arg: string): string => (/^[\w@%+=:,./~-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`)
