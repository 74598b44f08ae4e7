import { describe, expect, it } from 'vitest';
import { hostAllowed } from '../../lib/domain/host-glob.ts';

describe('Function: hostAllowed', () => {
  describe('Rule: * matches within one DNS label', () => {
    it.each([
      ['galaxy-game-g-7f3a', ['galaxy-game-*'], true],
      ['galaxy-game-', ['galaxy-game-*'], true],
      ['GALAXY-GAME-G-7F3A', ['galaxy-game-*'], true],
      ['galaxy-game-x', ['GALAXY-GAME-*'], true],
      ['galaxy-game-x.evil.example', ['galaxy-game-*'], false],
      ['evil.galaxy-game-x', ['galaxy-game-*'], false],
      ['galaxy-gamex', ['galaxy-game-*'], false],
      ['xgalaxy-game-1', ['galaxy-game-*'], false],
      ['engine-1.internal', ['*.internal'], true],
      ['a.b.internal', ['*.internal'], false],
      ['internal', ['*.internal'], false],
      ['game-7.engines.local', ['game-*.engines.local'], true],
      ['game-7.x.engines.local', ['game-*.engines.local'], false],
      ['ab-mid-cd', ['ab*cd'], true],
      ['abcd', ['a*b*c*d'], true],
      ['a.b', ['a*b'], false],
      ['exact-host', ['exact-host'], true],
      ['exact-host2', ['exact-host'], false],
      ['galaxy-game-1.', ['galaxy-game-*'], false],
    ] as const)('%s against %j -> %s', (host, globs, expected) => {
      // Act
      const allowed = hostAllowed(host, globs);
      // Assess
      expect(allowed).toBe(expected);
    });
  });

  describe('Rule: the glob * alone matches every host', () => {
    it.each(['galaxy-game-1', 'a.b.c.example', '10.0.0.5', '[fd00::1]', 'localhost'])('allows %s', (host) => {
      // Act / Assess
      expect(hostAllowed(host, ['*'])).toBe(true);
    });
  });

  describe('Rule: glob characters other than * are literal', () => {
    it.each([
      ['galaxyXgame', ['galaxy.game'], false],
      ['aab', ['a+b'], false],
      ['a+b', ['a+b'], true],
      ['ab', ['a?b'], false],
      ['a', ['[a]'], false],
      ['anything', ['.*'], false],
      ['x', ['^x$'], false],
    ] as const)('%s against %j -> %s', (host, globs, expected) => {
      // Act / Assess
      expect(hostAllowed(host, globs)).toBe(expected);
    });
  });

  describe('Rule: lists, empties and IP literals', () => {
    it('allows a host matched by any glob of the list', () => {
      // Act / Assess
      expect(hostAllowed('engine-2.internal', ['galaxy-game-*', '*.internal'])).toBe(true);
      expect(hostAllowed('other', ['galaxy-game-*', '*.internal'])).toBe(false);
    });

    it('allows nothing with an empty list, an empty glob or an empty host', () => {
      // Act / Assess
      expect(hostAllowed('galaxy-game-1', [])).toBe(false);
      expect(hostAllowed('galaxy-game-1', ['', '  '])).toBe(false);
      expect(hostAllowed('', ['*'])).toBe(false);
    });

    it('matches IPv4 literals label by label', () => {
      // Act / Assess
      expect(hostAllowed('10.0.0.5', ['10.0.0.*'])).toBe(true);
      expect(hostAllowed('10.0.1.5', ['10.0.0.*'])).toBe(false);
      expect(hostAllowed('10.0.0.5', ['10.0.0.5'])).toBe(true);
    });

    it('matches IPv6 literals in bracketed canonical form, with or without brackets in the glob', () => {
      // Act / Assess
      expect(hostAllowed('[fd00::1]', ['[fd00::1]'])).toBe(true);
      expect(hostAllowed('[fd00::1]', ['FD00:0:0::1'])).toBe(true);
      expect(hostAllowed('[fd00::1]', ['[FD00:0000::0001]'])).toBe(true);
      expect(hostAllowed('[fd00::2]', ['[fd00::1]'])).toBe(false);
      expect(hostAllowed('[fd00::2]', ['[fd00::*]'])).toBe(true);
      expect(hostAllowed('[fd01::2]', ['[fd00::*]'])).toBe(false);
      expect(hostAllowed('[fd00::1]', ['galaxy-game-*'])).toBe(false);
    });
  });
});
