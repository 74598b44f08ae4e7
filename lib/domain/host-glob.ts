/**
 * ENGINE_ALLOWED_HOSTS: the SSRF guard's host allowlist.
 *
 * A glob is a host name in which `*` matches any run of characters (the
 * empty run included) within one DNS label, never a dot; the glob `*` alone
 * matches every host. Matching is case-insensitive and label by label (host
 * and glob must have the same number of dot-separated labels), with no
 * regular expression, so no character of a glob other than `*` is special.
 *
 * Hosts and globs are put in the form the WHATWG URL parser gives a URL's
 * hostname (lowercase, IDNA/punycode, canonical IPv4 and IPv6): a glob
 * without `*` is canonicalised that way, a glob with `*` is only lowercased.
 * IPv6 literals match in their bracketed, canonical form (`[fd00::1]`); a
 * glob may be written with or without the brackets (`fd00:0::1` and
 * `[FD00::1]` both match `[fd00::1]`). An IPv6 literal has no dots, so it is
 * a single label: `[fd00::*]` matches every address that serialises as
 * `[fd00::…]`. A host with a trailing dot (`galaxy-game-1.`) only matches a
 * glob with the same trailing dot.
 */

/** Lowercases, brackets a bare IPv6 literal and, for a name without `*`, canonicalises it like a URL hostname. */
export function canonicalHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.includes(':') && !h.startsWith('[')) h = `[${h}]`;
  // With `*`, or with anything that would make the URL parser read less than the whole text as the host, keep it literal.
  if (h === '' || /[*/?#@\\\s]/.test(h)) return h;
  try {
    const hostname = new URL(`http://${h}/`).hostname;
    return hostname !== '' ? hostname : h;
  } catch {
    return h;
  }
}

/** Classic wildcard match of one label: `*` matches any run (possibly empty); linear backtracking, no regex. */
function labelMatches(label: string, pattern: string): boolean {
  let l = 0;
  let p = 0;
  let starP = -1;
  let starL = 0;
  while (l < label.length) {
    if (p < pattern.length && pattern[p] === '*') {
      starP = p++;
      starL = l;
    } else if (p < pattern.length && pattern[p] === label[l]) {
      p++;
      l++;
    } else if (starP !== -1) {
      p = starP + 1;
      l = ++starL;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

/** True when one glob matches the (already canonical) host. */
export function globMatches(canonicalHostName: string, glob: string): boolean {
  const g = canonicalHost(glob);
  if (g === '') return false;
  if (g === '*') return true;
  const hostLabels = canonicalHostName.split('.');
  const globLabels = g.split('.');
  if (hostLabels.length !== globLabels.length) return false;
  return globLabels.every((pattern, i) => labelMatches(hostLabels[i] ?? '', pattern));
}

/** True when some glob of the allowlist matches host (a URL hostname; compared case-insensitively). */
export function hostAllowed(host: string, globs: readonly string[]): boolean {
  if (typeof host !== 'string' || host.trim() === '') return false;
  const h = canonicalHost(host);
  return globs.some((glob) => typeof glob === 'string' && globMatches(h, glob));
}
