import { describe, expect, it } from 'vitest';
import { type AddressRefusal, checkAddress, isAddressAllowed } from '../../lib/adapters/address-guard.ts';

const strict = { allowLoopback: false };
const loopbackOk = { allowLoopback: true };

function reasonOf(address: string, opts = strict): AddressRefusal | 'allowed' {
  const verdict = checkAddress(address, opts);
  return verdict.allowed ? 'allowed' : verdict.reason;
}

describe('Function: isAddressAllowed', () => {
  describe('Rule: loopback', () => {
    it.each(['127.0.0.1', '127.255.255.254', '127.1.2.3', '::1', '0:0:0:0:0:0:0:1', '0000:0000:0000:0000:0000:0000:0000:0001', '[::1]'])(
      'refuses %s unless loopback is allowed',
      (address) => {
        // Prepare: nothing beyond the address.
        // Act
        const strictVerdict = reasonOf(address, strict);
        const relaxed = isAddressAllowed(address, loopbackOk);
        // Assess
        expect(strictVerdict).toBe('loopback');
        expect(relaxed).toBe(true);
      },
    );
  });

  describe('Rule: link-local', () => {
    it.each(['169.254.0.1', '169.254.170.2', '169.254.255.255', 'fe80::1', 'FE80::1', 'fe80::1%eth0', 'febf:ffff::1', 'fe80:0:0:0:0:0:0:1'])(
      'always refuses %s',
      (address) => {
        // Act
        const strictVerdict = reasonOf(address, strict);
        const relaxedVerdict = reasonOf(address, loopbackOk);
        // Assess
        expect(strictVerdict).toBe('link_local');
        expect(relaxedVerdict).toBe('link_local');
      },
    );

    it('does not stretch fe80::/10 to fec0::', () => {
      // Act
      const verdict = reasonOf('fec0::1');
      // Assess
      expect(verdict).toBe('allowed');
    });
  });

  describe('Rule: unspecified', () => {
    it.each(['0.0.0.0', '0.1.2.3', '0.255.255.255', '::', '0:0:0:0:0:0:0:0', '::ffff:0.0.0.0'])('always refuses %s', (address) => {
      // Act
      const verdict = reasonOf(address, loopbackOk);
      // Assess
      expect(verdict).toBe('unspecified');
    });
  });

  describe('Rule: multicast', () => {
    it.each(['224.0.0.1', '239.255.255.255', '230.1.2.3', 'ff02::1', 'FF05::2', 'ff00::', 'ff0e::1%2'])('always refuses %s', (address) => {
      // Act
      const verdict = reasonOf(address, loopbackOk);
      // Assess
      expect(verdict).toBe('multicast');
    });
  });

  describe('Rule: broadcast and reserved', () => {
    it('always refuses 255.255.255.255 as broadcast', () => {
      // Act
      const verdict = reasonOf('255.255.255.255', loopbackOk);
      // Assess
      expect(verdict).toBe('broadcast');
    });

    it.each(['240.0.0.1', '250.1.2.3', '255.255.255.254'])('refuses the reserved %s', (address) => {
      // Act
      const verdict = reasonOf(address, loopbackOk);
      // Assess
      expect(verdict).toBe('reserved');
    });
  });

  describe('Rule: metadata addresses', () => {
    it.each([
      '169.254.169.254',
      'fd00:ec2::254',
      'FD00:EC2::254',
      'fd00:0ec2:0000:0000:0000:0000:0000:0254',
      'fd00:ec2:0:0:0:0:0:254',
      '::ffff:169.254.169.254',
      '::ffff:a9fe:a9fe',
      '[fd00:ec2::254]',
    ])('always refuses %s, loopback allowed or not', (address) => {
      // Act
      const strictVerdict = reasonOf(address, strict);
      const relaxedVerdict = reasonOf(address, loopbackOk);
      // Assess
      expect(strictVerdict).toBe('metadata');
      expect(relaxedVerdict).toBe('metadata');
    });

    it('allows the neighbours of fd00:ec2::254 in fc00::/7', () => {
      // Act
      const verdicts = ['fd00:ec2::253', 'fd00:ec2::1:254', 'fd01:ec2::254'].map((a) => reasonOf(a));
      // Assess
      expect(verdicts).toEqual(['allowed', 'allowed', 'allowed']);
    });
  });

  describe('Rule: IPv4-mapped IPv6 is judged by its IPv4 address', () => {
    it.each([
      ['::ffff:127.0.0.1', 'loopback'],
      ['::ffff:7f00:1', 'loopback'],
      ['::FFFF:7F00:0001', 'loopback'],
      ['0:0:0:0:0:ffff:127.0.0.1', 'loopback'],
      ['0000:0000:0000:0000:0000:ffff:7f00:0001', 'loopback'],
      ['::ffff:169.254.1.1', 'link_local'],
      ['::ffff:a9fe:101', 'link_local'],
      ['::ffff:224.0.0.1', 'multicast'],
      ['::ffff:255.255.255.255', 'broadcast'],
      ['::ffff:10.0.0.1', 'allowed'],
      ['::ffff:a00:1', 'allowed'],
      ['::ffff:203.0.113.8', 'allowed'],
    ] as const)('judges %s as %s', (address, expected) => {
      // Act
      const verdict = reasonOf(address);
      // Assess
      expect(verdict).toBe(expected);
    });

    it('allows a mapped loopback address only when loopback is allowed', () => {
      // Act
      const verdict = isAddressAllowed('::ffff:7f00:1', loopbackOk);
      // Assess
      expect(verdict).toBe(true);
    });

    it('judges the deprecated IPv4-compatible and NAT64 forms by their IPv4 address too', () => {
      // Act
      const verdicts = ['::127.0.0.1', '::a9fe:a9fe', '::2', '64:ff9b::169.254.169.254', '64:ff9b::a00:1'].map((a) => reasonOf(a));
      // Assess
      expect(verdicts).toEqual(['loopback', 'metadata', 'unspecified', 'metadata', 'allowed']);
    });
  });

  describe('Rule: other addresses, private ranges included, are allowed', () => {
    it.each([
      '10.0.0.1',
      '10.255.255.255',
      '172.16.0.1',
      '172.31.255.254',
      '192.168.1.10',
      '100.64.0.1',
      '192.0.2.8',
      '198.51.100.1',
      '126.255.255.255',
      '128.0.0.1',
      '169.253.255.255',
      '169.255.0.1',
      '223.255.255.255',
      'fc00::1',
      'fd12:3456:789a::1',
      '3fff::1',
      '2001:db8::1',
    ])('allows %s', (address) => {
      // Act
      const strictVerdict = reasonOf(address, strict);
      const relaxedVerdict = reasonOf(address, loopbackOk);
      // Assess
      expect(strictVerdict).toBe('allowed');
      expect(relaxedVerdict).toBe('allowed');
    });
  });

  describe('Rule: anything that is not an IP address is refused', () => {
    it.each(['', 'localhost', 'galaxy-game-g1', '127.0.0.1.example.invalid', '256.0.0.1', '1.2.3', '::ffff:1.2.3.4.5', 'fe80::1%', 'http://10.0.0.1/', '010.0.0.1'])(
      'refuses %j',
      (address) => {
        // Act
        const verdict = reasonOf(address, loopbackOk);
        // Assess
        expect(verdict).toBe('not_an_ip_address');
      },
    );
  });
});
