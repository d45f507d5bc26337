/**
 * node-flags.ts — the V8 flags every manage-secrets process runs with (#14): the bin's shebang
 * (`bin/manage-secrets.js`) carries them, and the scheduler starts its jobs with them. They are
 * start-up flags: set at run time (`v8.setFlagsFromString`), the young generation keeps its size.
 *
 * - `--max-semi-space-size=2`: a young generation of 2 MB semi-spaces instead of up to 16. A
 *   run's objects are short-lived per host, so the large young generation was mostly garbage
 *   kept resident (1 MB saved a few MB more but cost the audit's parsing about 25% more CPU);
 * - `--heap-growing-percent=10`: after a full collection the old generation may grow by 10%
 *   before the next, not up to 4×, so garbage of hosts already done does not pile up.
 *
 * Measured at 200 hosts, forks 50 (peak RSS, default flags → these): rotate --force 162 →
 * 149 MB, audit --json of 1,000 files a host 185 → 109 MB (11.9 → 11.6 s), a no-change deploy
 * 141 → 104 MB (docs/performance.md). Neither bounds the heap: an audit reply near its 64 MiB
 * bound still fits.
 */
export const NODE_FLAGS = ['--max-semi-space-size=2', '--heap-growing-percent=10'] as const
