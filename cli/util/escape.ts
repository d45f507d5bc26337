/**
 * escape.ts — text a host sent, made safe to print on the operator's terminal (#12).
 *
 * A host's words are data: a file name, a symlink target or a line of its stderr may hold any
 * byte but NUL. Printed raw, `ESC ] 0;… BEL` retitles the terminal, `ESC [2J` clears it, a CR
 * sends the cursor back so the rest of the line overwrites a finding, and a LF forges a line
 * of its own (a "clean" host line, a fake summary).
 *
 * Rules enforced here:
 * - every C0 control (U+0000–U+001F, CR and LF included), DEL (U+007F) and C1 control
 *   (U+0080–U+009F, e.g. the 8-bit CSI U+009B) is shown as a visible escape: `\t`, `\n`, `\r`
 *   by name, the other C0 and DEL as `\xHH`, C1 as `\u00HH`;
 * - so are the bidirectional formatting characters (U+202A–U+202E, U+2066–U+2069), which
 *   reorder what the eye reads without changing the bytes ("Trojan Source", CVE-2021-42574);
 * - a backslash is shown doubled, so an escape on screen always means that character is in the
 *   data (a name spelled `a\x1b` and a name holding ESC never look alike);
 * - everything else, printable UTF-8 included (`café`, `秘密`), is kept as it is;
 * - one function for every human rendering of host-provided text; `--json` keeps the data
 *   exact and only spells the same characters as JSON `\u` escapes (`jsonText`).
 */

const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\\]/g
const NAMED: Readonly<Record<string, string>> = { '\t': '\\t', '\n': '\\n', '\r': '\\r', '\\': '\\\\' }

const hex = (c: string, width: number): string => c.charCodeAt(0).toString(16).padStart(width, '0')

/**
 * escapeControl returns `text` with every control and bidi character shown as a visible escape
 * (see the header): call it on every host-provided string (path, link target, host message)
 * before it reaches a terminal, so the host's bytes can never drive the terminal.
 */
export function escapeControl(text: string): string {
  return text.replace(UNSAFE, (c) => NAMED[c] ?? (c.charCodeAt(0) <= 0x7f ? `\\x${hex(c, 2)}` : `\\u${hex(c, 4)}`))
}

const JSON_UNSAFE = /[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g

/**
 * jsonText is `JSON.stringify(value, null, 2)` with DEL, the C1 controls and the bidi
 * characters spelled as `\uXXXX` too (JSON.stringify escapes only C0): the same document, value
 * for value, that cannot drive a terminal it is printed on either.
 */
export function jsonText(value: unknown): string {
  // outside strings JSON text holds none of these characters, so replacing them anywhere is safe
  return JSON.stringify(value, null, 2).replace(JSON_UNSAFE, (c) => `\\u${hex(c, 4)}`)
}
