import { describe, expect, it } from 'vitest';
import {
  firstDuplicateMember,
  goQuote,
  idempotencyKeyProblem,
  LIMITS,
  parseBody,
  type RegisterMember,
  usableGameId,
  validateRegisterRequest,
} from '../../lib/register-runtime/validation.ts';

const opts = { opSource: 'lobby_internal', allowedHosts: ['galaxy-game-*'] } as const;

function validBody(): Record<string, unknown> {
  return {
    game_id: 'g-7f3a',
    engine_endpoint: 'http://galaxy-game-g-7f3a:8080',
    members: [
      { user_id: 'u-1', race_name: 'Zorgons' },
      { user_id: 'u-2', race_name: 'Vellani' },
    ],
    target_engine_version: '1.4.2',
    turn_schedule: '0 */6 * * *',
  };
}

function roster(n: number): RegisterMember[] {
  return Array.from({ length: n }, (_, i) => ({ user_id: `u-${i}`, race_name: `Race ${i}` }));
}

function messageOf(body: unknown, options: { opSource: string; allowedHosts: readonly string[] } = opts): string | undefined {
  const result = validateRegisterRequest(body, options);
  return result.ok ? undefined : result.message;
}

describe('Function: parseBody', () => {
  it('parses a plain JSON body and reports its size in bytes', () => {
    // Prepare
    const body = JSON.stringify({ game_id: 'g-é' });
    // Act
    const result = parseBody(body, false);
    // Assess
    expect(result).toEqual({ ok: true, value: { game_id: 'g-é' }, bytes: Buffer.byteLength(body) });
  });

  it('decodes a base64 body', () => {
    // Prepare
    const body = Buffer.from(JSON.stringify(validBody())).toString('base64');
    // Act
    const result = parseBody(body, true);
    // Assess
    expect(result.ok && result.value).toEqual(validBody());
  });

  it.each([
    [undefined, false],
    ['', false],
    ['', true],
  ] as const)('treats a missing or empty body (%j, base64 %s) as not a JSON object', (body, base64) => {
    // Act
    const result = parseBody(body, base64);
    // Assess
    expect(result).toMatchObject({ ok: false, message: 'request body must be a JSON object' });
  });

  it.each(['{', 'not json', '   ', '{"a":1}x', "{'a':1}", '\ufeff{}'])('rejects %j, not JSON, as not a JSON object (the spec\'s one message)', (body) => {
    // Act
    const result = parseBody(body, false);
    // Assess
    expect(result).toMatchObject({ ok: false, message: 'request body must be a JSON object' });
  });

  it('rejects a base64 body that is not UTF-8', () => {
    // Prepare
    const body = Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]).toString('base64');
    // Act
    const result = parseBody(body, true);
    // Assess
    expect(result).toMatchObject({ ok: false, message: 'request body must be a JSON object' });
  });

  describe('Rule: at most 262144 bytes', () => {
    const padded = (bytes: number, filler = 'a'): string => {
      const shell = '{"pad":""}';
      return `{"pad":"${filler.repeat((bytes - shell.length) / Buffer.byteLength(filler))}"}`;
    };

    it('accepts exactly 262144 bytes and rejects 262145', () => {
      // Prepare
      const atLimit = padded(LIMITS.bodyBytes);
      const overLimit = padded(LIMITS.bodyBytes + 1);
      // Act
      const ok = parseBody(atLimit, false);
      const tooBig = parseBody(overLimit, false);
      // Assess
      expect(Buffer.byteLength(atLimit)).toBe(262144);
      expect(ok).toMatchObject({ ok: true, bytes: 262144 });
      expect(tooBig).toEqual({ ok: false, message: 'request body must be at most 262144 bytes', bytes: 262145 });
    });

    it('counts bytes, not characters', () => {
      // Prepare: "é" is two bytes in UTF-8, so 131071 of them + the shell is over the limit.
      const body = `{"pad":"${'é'.repeat(131070)}"}`;
      // Act
      const result = parseBody(body, false);
      // Assess
      expect(body.length).toBeLessThan(LIMITS.bodyBytes);
      expect(result).toMatchObject({ ok: false, message: 'request body must be at most 262144 bytes' });
    });

    it('applies the limit to the decoded bytes of a base64 body', () => {
      // Prepare
      const atLimit = Buffer.from(padded(LIMITS.bodyBytes)).toString('base64');
      const overLimit = Buffer.from(padded(LIMITS.bodyBytes + 1)).toString('base64');
      // Act
      const ok = parseBody(atLimit, true);
      const tooBig = parseBody(overLimit, true);
      // Assess
      expect(ok).toMatchObject({ ok: true, bytes: 262144 });
      expect(tooBig).toMatchObject({ ok: false, message: 'request body must be at most 262144 bytes' });
    });
  });
});

describe('Function: validateRegisterRequest', () => {
  it('accepts the spec example and returns exactly the contract fields', () => {
    // Prepare
    const body = { ...validBody(), extra: true, members: [{ user_id: 'u-1', race_name: 'Zorgons', colour: 'red' }] };
    // Act
    const result = validateRegisterRequest(body, opts);
    // Assess
    expect(result).toEqual({
      ok: true,
      value: {
        game_id: 'g-7f3a',
        engine_endpoint: 'http://galaxy-game-g-7f3a:8080',
        members: [{ user_id: 'u-1', race_name: 'Zorgons' }],
        target_engine_version: '1.4.2',
        turn_schedule: '0 */6 * * *',
      },
    });
  });

  describe('Rule: the body must be a JSON object', () => {
    it.each([null, [], [validBody()], 'x', 1, true, undefined])('rejects %j', (body) => {
      // Act / Assess
      expect(messageOf(body)).toBe('request body must be a JSON object');
    });
  });

  describe('Rule: a field with the wrong JSON type is named', () => {
    it.each([
      [{ game_id: 7 }, 'game_id must be a string'],
      [{ game_id: ['g'] }, 'game_id must be a string'],
      [{ engine_endpoint: {} }, 'engine_endpoint must be a string'],
      [{ members: {} }, 'members must be an array'],
      [{ members: 'u-1' }, 'members must be an array'],
      [{ members: [{ user_id: 'a', race_name: 'A' }, { user_id: 'b', race_name: 'B' }, 'x'] }, 'members[2] must be an object'],
      [{ members: [[]] }, 'members[0] must be an object'],
      [{ members: [{ user_id: 'a', race_name: 'A' }, { user_id: 'b', race_name: 'B' }, { user_id: 3 }] }, 'members[2].user_id must be a string'],
      [{ members: [{ user_id: 'a', race_name: false }] }, 'members[0].race_name must be a string'],
      [{ target_engine_version: 1.4 }, 'target_engine_version must be a string'],
      [{ turn_schedule: 0 }, 'turn_schedule must be a string'],
    ])('%j -> %s', (patch, message) => {
      // Prepare
      const body = { ...validBody(), ...patch };
      // Act / Assess
      expect(messageOf(body)).toBe(message);
    });

    it('checks the shape before the emptiness checks', () => {
      // Prepare
      const body = { game_id: '', turn_schedule: 5 };
      // Act / Assess
      expect(messageOf(body)).toBe('turn_schedule must be a string');
    });
  });

  describe("Rule: the seed's eight checks, in order, with its messages", () => {
    it.each([
      [{ game_id: undefined }, 'game id must not be empty'],
      [{ game_id: null }, 'game id must not be empty'],
      [{ game_id: '' }, 'game id must not be empty'],
      [{ game_id: ' \t\n' }, 'game id must not be empty'],
      [{ game_id: '\u00a0\u3000\u0085' }, 'game id must not be empty'],
      [{ engine_endpoint: null }, 'engine endpoint must not be empty'],
      [{ engine_endpoint: '  ' }, 'engine endpoint must not be empty'],
      [{ members: null }, 'members must not be empty'],
      [{ members: undefined }, 'members must not be empty'],
      [{ members: [] }, 'members must not be empty'],
      [{ members: [{ user_id: 'u-1', race_name: 'A' }, { race_name: 'B' }] }, 'members[1]: user id must not be empty'],
      [{ members: [{ user_id: ' ', race_name: 'A' }] }, 'members[0]: user id must not be empty'],
      [{ members: [{ user_id: 'u-1', race_name: 'A' }, { user_id: 'u-2', race_name: null }] }, 'members[1]: race name must not be empty'],
      [{ members: [{}] }, 'members[0]: user id must not be empty'],
      [{ members: [{ user_id: 'u-1', race_name: 'A' }, null] }, 'members[1]: user id must not be empty'],
      [
        { members: [{ user_id: 'u'.repeat(200), race_name: 'A' }, { user_id: 'u'.repeat(200), race_name: 'B' }] },
        `members carry duplicate entries for "${'u'.repeat(128)}"...`,
      ],
      [{ target_engine_version: '' }, 'target engine version must not be empty'],
      [{ turn_schedule: null }, 'turn schedule must not be empty'],
      [
        { members: [{ user_id: 'u-1', race_name: 'A' }, { user_id: 'u-1', race_name: 'B' }] },
        'members carry duplicate entries for "u-1"',
      ],
      [
        { members: [{ user_id: 'u-1', race_name: 'Same' }, { user_id: 'u-2', race_name: 'Same' }] },
        'members carry duplicate entries for "Same"',
      ],
    ])('%j -> %s', (patch, message) => {
      // Prepare
      const body = { ...validBody(), ...patch };
      // Act / Assess
      expect(messageOf(body)).toBe(message);
    });

    it('reports an unsupported op source with Go quoting', () => {
      // Act / Assess
      expect(messageOf(validBody(), { ...opts, opSource: 'cli' })).toBe('op source "cli" is unsupported');
      expect(messageOf(validBody(), { ...opts, opSource: '' })).toBe('op source "" is unsupported');
      expect(messageOf(validBody(), { ...opts, opSource: 'reconciler' })).toBe('op source "reconciler" is unsupported');
    });

    it('accepts the op sources lobby_internal and admin_rest', () => {
      // Act / Assess
      expect(messageOf(validBody(), { ...opts, opSource: 'lobby_internal' })).toBeUndefined();
      expect(messageOf(validBody(), { ...opts, opSource: 'admin_rest' })).toBeUndefined();
    });

    it('reports the first failure: a body failing checks 1 and 5 reports check 1', () => {
      // Prepare
      const body = { ...validBody(), game_id: '', target_engine_version: '' };
      // Act / Assess
      expect(messageOf(body)).toBe('game id must not be empty');
    });

    it('reports check 2 before 3, 3 before 6, a member before the version', () => {
      // Act / Assess
      expect(messageOf({ game_id: 'g', members: [] })).toBe('engine endpoint must not be empty');
      expect(messageOf({ ...validBody(), members: [], turn_schedule: '' })).toBe('members must not be empty');
      expect(messageOf({ ...validBody(), members: [{ user_id: 'u' }], target_engine_version: '' })).toBe(
        'members[0]: race name must not be empty',
      );
      expect(messageOf({ ...validBody(), turn_schedule: '' }, { ...opts, opSource: 'x' })).toBe('turn schedule must not be empty');
    });

    it('checks the op source before duplicates, and duplicates before the limits', () => {
      // Prepare
      const dup = { ...validBody(), game_id: 'bad id!', members: [{ user_id: 'u', race_name: 'A' }, { user_id: 'u', race_name: 'B' }] };
      // Act / Assess
      expect(messageOf(dup, { ...opts, opSource: 'x' })).toBe('op source "x" is unsupported');
      expect(messageOf(dup)).toBe('members carry duplicate entries for "u"');
    });

    it('runs the empty checks on every member before looking for duplicates', () => {
      // Prepare
      const body = { ...validBody(), members: [{ user_id: 'u', race_name: 'A' }, { user_id: 'u', race_name: 'B' }, { user_id: 'v' }] };
      // Act / Assess
      expect(messageOf(body)).toBe('members[2]: race name must not be empty');
    });

    it("quotes duplicates like Go's %q", () => {
      // Prepare
      const body = { ...validBody(), members: [{ user_id: 'u', race_name: 'a"b\\c\n' }, { user_id: 'v', race_name: 'a"b\\c\n' }] };
      // Act / Assess
      expect(messageOf(body)).toBe('members carry duplicate entries for "a\\"b\\\\c\\n"');
    });
  });

  describe('Rule: limits, after the eight checks', () => {
    it('accepts 500 members and rejects 501', () => {
      // Act
      const ok = messageOf({ ...validBody(), members: roster(500) });
      const tooMany = messageOf({ ...validBody(), members: roster(501) });
      // Assess
      expect(ok).toBeUndefined();
      expect(tooMany).toBe('members must have at most 500 entries');
    });

    const idRule = 'must be 1 to 128 characters: letters, digits, . _ : @ -, starting with a letter or digit';

    it('accepts a 128-character game_id and rejects 129', () => {
      // Act
      const ok = messageOf({ ...validBody(), game_id: `g${'-'.repeat(127)}` });
      const over = messageOf({ ...validBody(), game_id: 'g'.repeat(129) });
      // Assess
      expect(ok).toBeUndefined();
      expect(over).toBe(`game_id ${idRule}`);
    });

    it.each(['-g', '.g', '_g', ':g', '@g', 'g 1', ' g', 'g\n', 'g/1', 'g#1', 'gé', 'g\u0000'])('rejects the game_id %j', (gameId) => {
      // Act / Assess
      expect(messageOf({ ...validBody(), game_id: gameId })).toBe(`game_id ${idRule}`);
    });

    it.each(['g', '7', 'G.a_b:c@d-e', 'a'.repeat(128)])('accepts the game_id %j', (gameId) => {
      // Act / Assess
      expect(messageOf({ ...validBody(), game_id: gameId })).toBeUndefined();
    });

    it('accepts a 128-character user_id and rejects 129, naming the member', () => {
      // Prepare
      const members = (userId: string) => [{ user_id: 'u-0', race_name: 'A' }, { user_id: 'u-1', race_name: 'B' }, { user_id: 'u-2', race_name: 'C' }, { user_id: userId, race_name: 'D' }];
      // Act
      const ok = messageOf({ ...validBody(), members: members('u'.repeat(128)) });
      const over = messageOf({ ...validBody(), members: members('u'.repeat(129)) });
      const badChar = messageOf({ ...validBody(), members: members('u/3') });
      // Assess
      expect(ok).toBeUndefined();
      expect(over).toBe(`members[3].user_id ${idRule}`);
      expect(badChar).toBe(`members[3].user_id ${idRule}`);
    });

    it('accepts a 64-character race_name and rejects 65, counting code points', () => {
      // Prepare: "🚀" is one code point but two UTF-16 units.
      const members = (race: string) => [{ user_id: 'u-0', race_name: 'A' }, { user_id: 'u-1', race_name: 'B' }, { user_id: 'u-2', race_name: 'C' }, { user_id: 'u-3', race_name: race }];
      // Act
      const ok = messageOf({ ...validBody(), members: members('r'.repeat(64)) });
      const okAstral = messageOf({ ...validBody(), members: members('🚀'.repeat(64)) });
      const over = messageOf({ ...validBody(), members: members('r'.repeat(65)) });
      const overAstral = messageOf({ ...validBody(), members: members('🚀'.repeat(65)) });
      // Assess
      expect(ok).toBeUndefined();
      expect(okAstral).toBeUndefined();
      expect(over).toBe('members[3].race_name must be at most 64 characters without control characters');
      expect(overAstral).toBe('members[3].race_name must be at most 64 characters without control characters');
    });

    it.each(['Zorg\u0000ons', 'Zorg\tons', 'Zorgons\n', 'Zorg\u007fons', 'Zorg\u0085ons', 'Zorg\u009fons'])(
      'rejects the race_name %j (control character)',
      (race) => {
        // Act / Assess
        expect(messageOf({ ...validBody(), members: [{ user_id: 'u-1', race_name: race }] })).toBe(
          'members[0].race_name must be at most 64 characters without control characters',
        );
      },
    );

    it.each(['Zörgöns', 'The Vellani', ' Padded ', 'Ǆ 𝔘 ß', '火星人'])('accepts the race_name %j', (race) => {
      // Act / Assess
      expect(messageOf({ ...validBody(), members: [{ user_id: 'u-1', race_name: race }] })).toBeUndefined();
    });

    it('rejects a race_name with a lone surrogate', () => {
      // Act / Assess
      expect(messageOf({ ...validBody(), members: [{ user_id: 'u-1', race_name: 'Zorg\ud800' }] })).toBe(
        'members[0].race_name must be well-formed Unicode text (no lone surrogates)',
      );
    });

    it('accepts a 64-character target_engine_version and rejects 65 or other characters', () => {
      // Prepare
      const rule = 'target_engine_version must be 1 to 64 characters: letters, digits, . + -';
      // Act / Assess
      expect(messageOf({ ...validBody(), target_engine_version: '1'.repeat(64) })).toBeUndefined();
      expect(messageOf({ ...validBody(), target_engine_version: '1.4.2-rc.1+build.7' })).toBeUndefined();
      expect(messageOf({ ...validBody(), target_engine_version: '1'.repeat(65) })).toBe(rule);
      expect(messageOf({ ...validBody(), target_engine_version: 'v1_4' })).toBe(rule);
      expect(messageOf({ ...validBody(), target_engine_version: ' 1.4.2' })).toBe(rule);
    });

    it('accepts a 128-character turn_schedule and rejects 129', () => {
      // Prepare: padding with spaces keeps the expression valid.
      const atLimit = `0 */6 * * *${' '.repeat(128 - 11)}`;
      // Act
      const ok = messageOf({ ...validBody(), turn_schedule: atLimit });
      const over = messageOf({ ...validBody(), turn_schedule: `${atLimit} ` });
      // Assess
      expect(atLimit.length).toBe(128);
      expect(ok).toBeUndefined();
      expect(over).toBe('turn_schedule must be at most 128 characters');
    });

    it('accepts a 2048-character engine_endpoint and rejects 2049', () => {
      // Prepare
      const prefix = 'http://galaxy-game-1:8080/';
      const atLimit = prefix + 'p'.repeat(2048 - prefix.length);
      // Act
      const ok = messageOf({ ...validBody(), engine_endpoint: atLimit });
      const over = messageOf({ ...validBody(), engine_endpoint: `${atLimit}p` });
      // Assess
      expect(ok).toBeUndefined();
      expect(over).toBe('engine_endpoint must be at most 2048 characters');
    });

    it('checks limits in field order: game_id before members before the version', () => {
      // Prepare
      const body = { ...validBody(), game_id: '-g', members: roster(501), target_engine_version: '!' };
      // Act / Assess
      expect(messageOf(body)).toMatch(/^game_id must be/);
      expect(messageOf({ ...body, game_id: 'g' })).toBe('members must have at most 500 entries');
    });
  });

  describe('Rule: the turn schedule is a valid cron expression', () => {
    it.each([
      ['@daily', 'macros'],
      ['0 0 * * * *', 'exactly five fields'],
      ['0 0 L * *', '"L" is not supported'],
      ['0 0 ? * *', '"?" is not supported'],
      ['0 0 30 2 *', 'never fires'],
    ])('rejects %j', (schedule, fragment) => {
      // Act
      const message = messageOf({ ...validBody(), turn_schedule: schedule });
      // Assess
      expect(message).toMatch(/^turn_schedule is not a valid cron expression: /);
      expect(message).toContain(fragment);
    });

    it('checks the limits before the cron expression', () => {
      // Act / Assess
      expect(messageOf({ ...validBody(), target_engine_version: '!', turn_schedule: '@daily' })).toMatch(/^target_engine_version/);
    });

    it('checks the cron expression before the endpoint', () => {
      // Act / Assess
      expect(messageOf({ ...validBody(), engine_endpoint: 'ftp://x', turn_schedule: '@daily' })).toMatch(/^turn_schedule/);
    });
  });

  describe('Rule: the engine endpoint is an absolute http(s) URL on an allowed host', () => {
    const notAbsolute = 'engine_endpoint must be an absolute http or https URL';
    it.each([
      ['http://galaxy-game-1', undefined],
      ['https://galaxy-game-1:8443/base/path', undefined],
      ['HTTP://GALAXY-GAME-1:8080', undefined],
      ['http://galaxy-game-1:8080/', undefined],
      ['galaxy-game-1:8080', notAbsolute],
      ['/admin', notAbsolute],
      ['ftp://galaxy-game-1', notAbsolute],
      ['file:///etc/passwd', notAbsolute],
      ['javascript:alert(1)', notAbsolute],
      ['http:galaxy-game-1', notAbsolute],
      ['http:/galaxy-game-1', notAbsolute],
      ['http:///galaxy-game-1', notAbsolute],
      ['http:\\\\galaxy-game-1', notAbsolute],
      ['http://', notAbsolute],
      ['http://galaxy-game-1:99999', notAbsolute],
      [' http://galaxy-game-1', notAbsolute],
      ['http://galaxy-game-1 ', notAbsolute],
      ['http://galaxy-\ngame-1', notAbsolute],
      ['http://galaxy-game-1\t/', notAbsolute],
      ['http://user@galaxy-game-1', 'engine_endpoint must not carry a username or password'],
      ['http://user:pw@galaxy-game-1', 'engine_endpoint must not carry a username or password'],
      ['http://:pw@galaxy-game-1', 'engine_endpoint must not carry a username or password'],
      ['http://@galaxy-game-1', 'engine_endpoint must not carry a username or password'],
      ['http://galaxy-game-1/?', 'engine_endpoint must not carry a query'],
      ['http://galaxy-game-1?a=1', 'engine_endpoint must not carry a query'],
      ['http://galaxy-game-1/#', 'engine_endpoint must not carry a fragment'],
      ['http://galaxy-game-1/#frag?x', 'engine_endpoint must not carry a fragment'],
      ['http://galaxy-game-1/path%3Fnot-a-query', undefined],
      ['http://galaxy-game-x.evil.example', 'engine_endpoint host "galaxy-game-x.evil.example" is not allowed by ENGINE_ALLOWED_HOSTS'],
      ['http://evil.galaxy-game-x', 'engine_endpoint host "evil.galaxy-game-x" is not allowed by ENGINE_ALLOWED_HOSTS'],
      ['http://169.254.169.254/latest', 'engine_endpoint host "169.254.169.254" is not allowed by ENGINE_ALLOWED_HOSTS'],
      ['http://[::1]:8080', 'engine_endpoint host "[::1]" is not allowed by ENGINE_ALLOWED_HOSTS'],
      ['http://galaxy-game-1@evil.example', 'engine_endpoint must not carry a username or password'],
    ])('%j -> %s', (endpoint, expected) => {
      // Act / Assess
      expect(messageOf({ ...validBody(), engine_endpoint: endpoint })).toBe(expected);
    });

    it('matches the host against every glob, and * allows any host', () => {
      // Act / Assess
      expect(messageOf({ ...validBody(), engine_endpoint: 'http://10.0.3.7:8080' }, { ...opts, allowedHosts: ['galaxy-game-*', '10.0.*.*'] })).toBeUndefined();
      expect(messageOf({ ...validBody(), engine_endpoint: 'http://anything.example' }, { ...opts, allowedHosts: ['*'] })).toBeUndefined();
      expect(messageOf({ ...validBody(), engine_endpoint: 'http://[fd00::1]:8080' }, { ...opts, allowedHosts: ['[fd00::1]'] })).toBeUndefined();
      expect(messageOf({ ...validBody(), engine_endpoint: 'http://galaxy-game-1' }, { ...opts, allowedHosts: [] })).toMatch(/not allowed/);
    });
  });

  describe('Rule: prototype keys never pollute or crash', () => {
    it('ignores __proto__ and constructor keys from JSON.parse', () => {
      // Prepare
      const body = JSON.parse(
        '{"__proto__":{"game_id":"evil"},"constructor":{"prototype":{"x":1}},"game_id":"g-1","engine_endpoint":"http://galaxy-game-1","members":[{"__proto__":{"user_id":"u"},"user_id":"u-1","race_name":"A"}],"target_engine_version":"1","turn_schedule":"* * * * *"}',
      ) as unknown;
      // Act
      const result = validateRegisterRequest(body, opts);
      // Assess
      expect(result.ok).toBe(true);
      expect(({} as Record<string, unknown>).game_id).toBeUndefined();
      expect(({} as Record<string, unknown>).x).toBeUndefined();
    });

    it('does not read inherited fields', () => {
      // Prepare
      const body = Object.create(validBody()) as object;
      // Act / Assess
      expect(messageOf(body)).toBe('game id must not be empty');
      expect(messageOf(JSON.parse('{"__proto__":{"game_id":"g"}}'))).toBe('game id must not be empty');
    });

    it('never throws on a throwing getter or proxy', () => {
      // Prepare
      const getter = Object.defineProperty({ ...validBody() }, 'game_id', { enumerable: true, get: () => { throw new Error('boom'); } });
      const proxy = new Proxy({}, { getOwnPropertyDescriptor: () => { throw new Error('boom'); } });
      // Act / Assess
      expect(messageOf(getter)).toBe('game id must not be empty');
      expect(messageOf(proxy)).toBe('request body must be a JSON object');
      expect(usableGameId(proxy)).toBeUndefined();
    });
  });
});

describe('Function: usableGameId', () => {
  it.each([
    [{ game_id: 'g-7f3a' }, 'g-7f3a'],
    [{ game_id: 'a'.repeat(128) }, 'a'.repeat(128)],
    [{ game_id: 'a'.repeat(129) }, undefined],
    [{ game_id: '' }, undefined],
    [{ game_id: '  ' }, undefined],
    [{ game_id: ' g-1' }, undefined],
    [{ game_id: '_unidentified' }, undefined],
    [{ game_id: 'g/1' }, undefined],
    [{ game_id: 7 }, undefined],
    [{ game_id: null }, undefined],
    [{}, undefined],
    [JSON.parse('{"__proto__":{"game_id":"g"}}'), undefined],
    [[{ game_id: 'g' }], undefined],
    ['g-1', undefined],
    [null, undefined],
    [undefined, undefined],
    [42, undefined],
  ])('%j -> %j', (raw, expected) => {
    // Act / Assess
    expect(usableGameId(raw)).toBe(expected);
  });
});

describe('Function: idempotencyKeyProblem', () => {
  const problem = 'Idempotency-Key header must be 1 to 255 printable ASCII characters (space to ~)';

  it.each(['k', 'a'.repeat(255), ' ', '~', 'key with spaces', '0a6f-!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~'])('accepts %j', (key) => {
    // Act / Assess
    expect(idempotencyKeyProblem(key)).toBeUndefined();
  });

  it.each(['', 'a'.repeat(256), 'k\n', 'k\t', 'k\u007f', 'clé', 'k\u0000', '🚀'])('rejects %j', (key) => {
    // Act / Assess
    expect(idempotencyKeyProblem(key)).toBe(problem);
  });
});

describe('Function: firstDuplicateMember', () => {
  it('walks the roster once, user before race within a member', () => {
    // Prepare
    const members = [
      { user_id: 'u-1', race_name: 'A' },
      { user_id: 'u-2', race_name: 'B' },
      { user_id: 'u-2', race_name: 'A' },
    ];
    // Act / Assess
    expect(firstDuplicateMember(members)).toBe('u-2');
    expect(firstDuplicateMember(members.slice(0, 2))).toBeUndefined();
  });

  it('keeps user ids and race names apart', () => {
    // Act / Assess
    expect(firstDuplicateMember([{ user_id: 'x', race_name: 'y' }, { user_id: 'y', race_name: 'x' }])).toBeUndefined();
  });
});

describe("Function: goQuote (Go's %q)", () => {
  it.each([
    ['plain', '"plain"'],
    ['a"b', '"a\\"b"'],
    ['a\\b', '"a\\\\b"'],
    ['\u0007\b\f\n\r\t\v', '"\\a\\b\\f\\n\\r\\t\\v"'],
    ['\u0000\u001b\u007f', '"\\x00\\x1b\\x7f"'],
    ['\u00a0\u200b', '"\\u00a0\\u200b"'],
    ['é 火 🚀', '"é 火 🚀"'],
    ['\ud800', '"\ufffd"'],
  ])('%j -> %s', (text, quoted) => {
    // Act / Assess
    expect(goQuote(text)).toBe(quoted);
  });
});
