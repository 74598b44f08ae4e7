/**
 * The engine address guard (spec "Engine contract"): which IP addresses the
 * engine client may connect to. Pure functions, no I/O.
 *
 * Refused: loopback (127.0.0.0/8, ::1) unless `allowLoopback`; always
 * link-local (169.254.0.0/16, fe80::/10), unspecified (0.0.0.0/8, ::),
 * multicast (224.0.0.0/4, ff00::/8), broadcast and the rest of the reserved
 * 240.0.0.0/4, and the instance metadata addresses (169.254.169.254,
 * fd00:ec2::254). IPv6 addresses that carry an IPv4 address in their last 32
 * bits (IPv4-mapped ::ffff:0:0/96, the deprecated IPv4-compatible ::/96 and
 * the NAT64 prefix 64:ff9b::/96) are judged by that IPv4 address. Everything
 * else, including the private ranges 10/8, 172.16/12, 192.168/16 and
 * fc00::/7, is allowed: engines run inside the VPC.
 */
import { isIPv4, isIPv6 } from 'node:net';

export type AddressRefusal =
  | 'not_an_ip_address'
  | 'loopback'
  | 'link_local'
  | 'unspecified'
  | 'multicast'
  | 'broadcast'
  | 'reserved'
  | 'metadata';

export type AddressVerdict = { allowed: true } | { allowed: false; reason: AddressRefusal };

export interface AddressGuardOptions {
  /** Allow loopback addresses (local runs and tests); allows nothing else. */
  allowLoopback: boolean;
}

const ALLOWED: AddressVerdict = { allowed: true };

/** True when the engine client may connect to `address` (an IP literal). */
export function isAddressAllowed(address: string, opts: AddressGuardOptions): boolean {
  return checkAddress(address, opts).allowed;
}

/**
 * Judges one IP address. Accepts every textual form Node accepts (IPv6
 * compressed or expanded, any case, with a zone id like `fe80::1%eth0`, or in
 * brackets as in a URL host). Anything that is not an IP literal is refused.
 */
export function checkAddress(address: string, opts: AddressGuardOptions): AddressVerdict {
  let text = address.trim();
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  if (isIPv4(text)) return judgeV4(parseV4(text), opts);
  // isIPv6 accepts a zone id (`%eth0`); it never changes which address it is.
  if (isIPv6(text)) return judgeV6(parseV6(text.split('%')[0] ?? ''), opts);
  return { allowed: false, reason: 'not_an_ip_address' };
}

function refuse(reason: AddressRefusal): AddressVerdict {
  return { allowed: false, reason };
}

/** Dotted quad (already validated by isIPv4) to an unsigned 32-bit number. */
function parseV4(text: string): number {
  const parts = text.split('.').map(Number);
  return (((parts[0] ?? 0) << 24) | ((parts[1] ?? 0) << 16) | ((parts[2] ?? 0) << 8) | (parts[3] ?? 0)) >>> 0;
}

function inV4(ip: number, base: string, prefix: number): boolean {
  if (prefix === 0) return true;
  const mask = (0xffffffff << (32 - prefix)) >>> 0;
  return (ip & mask) >>> 0 === (parseV4(base) & mask) >>> 0;
}

function judgeV4(ip: number, opts: AddressGuardOptions): AddressVerdict {
  if (inV4(ip, '169.254.169.254', 32)) return refuse('metadata');
  if (inV4(ip, '0.0.0.0', 8)) return refuse('unspecified');
  if (inV4(ip, '127.0.0.0', 8)) return opts.allowLoopback ? ALLOWED : refuse('loopback');
  if (inV4(ip, '169.254.0.0', 16)) return refuse('link_local');
  if (inV4(ip, '224.0.0.0', 4)) return refuse('multicast');
  if (inV4(ip, '255.255.255.255', 32)) return refuse('broadcast');
  if (inV4(ip, '240.0.0.0', 4)) return refuse('reserved');
  return ALLOWED;
}

/**
 * IPv6 text (already validated by isIPv6, zone id removed) to its eight
 * 16-bit groups. Handles `::`, any case, and a trailing dotted IPv4 part.
 */
function parseV6(text: string): number[] {
  let body = text.toLowerCase();
  const lastColon = body.lastIndexOf(':');
  const tail = body.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = parseV4(tail);
    body = `${body.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const toGroups = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => Number.parseInt(g, 16)));
  const gap = body.indexOf('::');
  if (gap < 0) return toGroups(body);
  const head = toGroups(body.slice(0, gap));
  const rest = toGroups(body.slice(gap + 2));
  return [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest];
}

function judgeV6(groups: number[], opts: AddressGuardOptions): AddressVerdict {
  const g = (i: number): number => groups[i] ?? 0;
  const embeddedV4 = ((g(6) << 16) | g(7)) >>> 0;
  const firstFiveZero = g(0) === 0 && g(1) === 0 && g(2) === 0 && g(3) === 0 && g(4) === 0;

  // fd00:ec2::254, the instance metadata service over IPv6.
  if (g(0) === 0xfd00 && g(1) === 0x0ec2 && g(2) === 0 && g(3) === 0 && g(4) === 0 && g(5) === 0 && g(6) === 0 && g(7) === 0x254) {
    return refuse('metadata');
  }
  if (firstFiveZero && g(5) === 0) {
    if (g(6) === 0 && g(7) === 0) return refuse('unspecified');
    if (g(6) === 0 && g(7) === 1) return opts.allowLoopback ? ALLOWED : refuse('loopback');
    // ::a.b.c.d, the deprecated IPv4-compatible form.
    return judgeV4(embeddedV4, opts);
  }
  // ::ffff:a.b.c.d, IPv4-mapped.
  if (firstFiveZero && g(5) === 0xffff) return judgeV4(embeddedV4, opts);
  // 64:ff9b::a.b.c.d, the NAT64 well-known prefix.
  if (g(0) === 0x64 && g(1) === 0xff9b && g(2) === 0 && g(3) === 0 && g(4) === 0 && g(5) === 0) {
    return judgeV4(embeddedV4, opts);
  }
  if ((g(0) & 0xffc0) === 0xfe80) return refuse('link_local');
  if ((g(0) & 0xff00) === 0xff00) return refuse('multicast');
  return ALLOWED;
}
