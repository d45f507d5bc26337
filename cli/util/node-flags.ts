/**
 * node-flags.ts — the V8 flags every manage-secrets process runs with (#14): the bin's shebang
 * (`bin/manage-secrets.js`) carries them, and the scheduler starts its jobs with them. They are
 * start-up flags: set at run time (`v8.setFlagsFromString`), the young generation keeps its size.
 *
 * - `--max-semi-space-size=1`: a young generation of 1 MB semi-spaces instead of up to 16. A
 *   run's objects are short-lived per host, so the large young generation was mostly garbage
 *   kept resident;
 * - `--heap-growing-percent=10`: after a full collection the old generation may grow by 10%
 *   before the next, not up to 4×, so garbage of hosts already done does not pile up.
 *
 * Measured at 200 hosts, forks 50 (peak RSS, default flags → these): rotate --force 162 →
 * 145 MB, audit --json of 1,000 files a host 188 → 110 MB, a no-change deploy 141 → 105 MB,
 * with the same CPU time for rotate and deploy and about 20% more for the audit's parsing
 * (docs/performance.md). Neither bounds the heap: an audit reply near its 64 MiB bound still fits.
 */
export const NODE_FLAGS = ['--max-semi-space-size=1', '--heap-growing-percent=10'] as const
