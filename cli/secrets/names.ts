/**
 * names.ts — the one validation of bundle names, key names and values, wherever they come
 * from: the manifest, `--bundle`, a file name on import or edit, a file on a host (#12,
 * README "Secrets: names are data").
 *
 * Rules enforced here:
 * - a bundle name is `[A-Za-z0-9][A-Za-z0-9_.-]*`, at most 64 characters, never holding `..`
 *   and never ending in a dot: it becomes `<name>.asc` and `<name>.env`, so it can never be a
 *   path, a hidden file or an option;
 * - a key name is a portable environment name, `[A-Za-z_][A-Za-z0-9_]*`, at most 128
 *   characters; the `_PREVIOUS` suffix is reserved for a rotated key's previous value;
 * - keys that change how a process loads code (`LD_*`, `NODE_OPTIONS`, `PYTHON*`, `PATH`, …)
 *   are refused unless the manifest allows them by name (`allow_keys`);
 * - a value is any string without NUL (an environment cannot carry one);
 * - messages show a name through `JSON.stringify` (never raw control characters) and never
 *   show a value.
 */

/** BUNDLE_NAME is the pattern of a bundle name (it becomes `<name>.asc` and `<name>.env`). */
export const BUNDLE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/
/** KEY_NAME is the pattern of a key name (it becomes an environment variable). */
export const KEY_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
/** PREVIOUS_SUFFIX carries a rotated key's previous value during its grace period. */
export const PREVIOUS_SUFFIX = '_PREVIOUS'

const MAX_BUNDLE = 64
const MAX_KEY = 128

/** BUNDLE_NAME_RULE says what a bundle name may be, for messages. */
export const BUNDLE_NAME_RULE = 'letters, digits, _, . and -, starting with a letter or digit, no "..", at most 64'
/** KEY_NAME_RULE says what a key name may be, for messages. */
export const KEY_NAME_RULE = 'letters, digits and _, not starting with a digit'

/** showName renders a name for a message: quoted, with every control character escaped. */
export function showName(name: string): string {
  return JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name)
}

/** bundleNameIssue says what is wrong with a bundle name, or undefined when it is valid. */
export function bundleNameIssue(name: string): string | undefined {
  if (name.length === 0) return 'a bundle name must not be empty'
  if (name.length > MAX_BUNDLE) return `a bundle name has at most ${MAX_BUNDLE} characters`
  if (!BUNDLE_NAME.test(name) || name.includes('..') || name.endsWith('.'))
    return `bundle names are ${BUNDLE_NAME_RULE}`
  return undefined
}

/** isBundleName says whether `name` is a valid bundle name. */
export function isBundleName(name: string): boolean {
  return bundleNameIssue(name) === undefined
}

/** keyNameIssue says what is wrong with a key name, or undefined when it is valid. */
export function keyNameIssue(key: string): string | undefined {
  if (!KEY_NAME.test(key)) return `key names are ${KEY_NAME_RULE}`
  if (key.length > MAX_KEY) return `a key name has at most ${MAX_KEY} characters`
  if (key.endsWith(PREVIOUS_SUFFIX))
    return `the ${PREVIOUS_SUFFIX} suffix is reserved for the previous value of a rotated key`
  return undefined
}

/**
 * hostKeyNameIssue says what is wrong with a key name as a host copy of a bundle carries it,
 * or undefined when it is valid: a key name, or one plus the `_PREVIOUS` suffix of a
 * rotated key during its grace period.
 */
export function hostKeyNameIssue(key: string): string | undefined {
  return keyNameIssue(key.endsWith(PREVIOUS_SUFFIX) ? key.slice(0, -PREVIOUS_SUFFIX.length) : key)
}

/**
 * LOADER_KEYS are environment variables that change how a process finds or loads code: a
 * bundle that sets one can run code in every consumer (NODE_OPTIONS=--require …). Exact
 * names; `LOADER_PREFIXES` covers families.
 */
export const LOADER_KEYS: ReadonlySet<string> = new Set([
  'PATH',
  'NODE_OPTIONS',
  'NODE_PATH',
  'NODE_REPL_EXTERNAL_MODULE',
  'PERL5LIB',
  'PERL5OPT',
  'PERLLIB',
  'PERL5DB',
  'RUBYOPT',
  'RUBYLIB',
  'GEM_PATH',
  'GEM_HOME',
  'JAVA_TOOL_OPTIONS',
  '_JAVA_OPTIONS',
  'JDK_JAVA_OPTIONS',
  'CLASSPATH',
  'BASH_ENV',
  'ENV',
  'SHELLOPTS',
  'BASHOPTS',
  'PS4',
  'IFS',
  'GCONV_PATH',
  'GLIBC_TUNABLES',
  'LOCPATH',
  'NLSPATH',
  'HOSTALIASES',
  'RES_OPTIONS',
  'PHPRC',
  'PHP_INI_SCAN_DIR',
  'LUA_PATH',
  'LUA_CPATH',
  'TCLLIBPATH',
  'R_PROFILE',
  'R_PROFILE_USER',
  'GIT_EXEC_PATH',
])

/** LOADER_PREFIXES are families of loader variables (`LD_PRELOAD`, `PYTHONSTARTUP`, `DYLD_*`, …). */
export const LOADER_PREFIXES: readonly string[] = ['LD_', 'DYLD_', 'PYTHON', 'MALLOC_', 'BASH_FUNC_']

/** isLoaderKey says whether a key changes how a process loads code (see `LOADER_KEYS`). */
export function isLoaderKey(key: string): boolean {
  return LOADER_KEYS.has(key) || LOADER_PREFIXES.some((p) => key.startsWith(p))
}

/** loaderKeyIssue says why a loader key is refused, unless `allowed` (the manifest's `allow_keys`) names it. */
export function loaderKeyIssue(key: string, allowed: readonly string[] = []): string | undefined {
  if (!isLoaderKey(key) || allowed.includes(key)) return undefined
  return `${key} changes how a process loads code; list it under the bundle's allow_keys in the manifest if it is meant`
}

/** valueIssue says what is wrong with a value (never quoting it), or undefined when it is valid. */
export function valueIssue(value: string): string | undefined {
  return value.includes('\0') ? 'a value must not contain a NUL byte' : undefined
}
