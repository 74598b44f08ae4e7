/**
 * The EventBridge pattern matcher check:template uses on the stream
 * mapping's FilterCriteria (scripts/template-checks/event-pattern.ts): the
 * operators it knows, what it refuses as invalid, and Lambda's reading of a
 * DynamoDB stream record.
 */
import { describe, expect, it } from 'vitest';
import { InvalidPatternError, matches, parsePattern } from '../../scripts/template-checks/event-pattern.ts';

const insert = { eventName: 'INSERT', dynamodb: { NewImage: { detail_type: { S: 'runtime_snapshot_update' }, size: { N: '3' } }, SizeBytes: 120 } };
const modify = { ...insert, eventName: 'MODIFY' };
const remove = { eventName: 'REMOVE', userIdentity: { type: 'Service', principalId: 'dynamodb.amazonaws.com' }, dynamodb: { SizeBytes: 80 } };

describe('Module: event-pattern', () => {
  it('matches exact values, nested fields and lists', () => {
    const pattern = parsePattern('{"eventName":["INSERT"],"dynamodb":{"NewImage":{"detail_type":{"S":["runtime_snapshot_update"]}}}}');
    expect(matches(pattern, insert)).toBe(true);
    expect(matches(pattern, modify)).toBe(false);
    expect(matches(pattern, remove)).toBe(false);
  });

  it.each([
    ['prefix', '{"eventName":[{"prefix":"INS"}]}', [true, false, false]],
    ['suffix', '{"eventName":[{"suffix":"FY"}]}', [false, true, false]],
    ['equals-ignore-case', '{"eventName":[{"equals-ignore-case":"insert"}]}', [true, false, false]],
    ['anything-but', '{"eventName":[{"anything-but":["REMOVE"]}]}', [true, true, false]],
    ['anything-but prefix', '{"eventName":[{"anything-but":{"prefix":"MOD"}}]}', [true, false, true]],
    ['exists', '{"userIdentity":[{"exists":false}]}', [true, true, false]],
    ['numeric', '{"dynamodb":{"SizeBytes":[{"numeric":[">",100,"<=",200]}]}}', [true, true, false]],
    ['wildcard', '{"eventName":[{"wildcard":"*O*"}]}', [false, true, true]],
    ['$or', '{"$or":[{"eventName":["INSERT"]},{"userIdentity":{"type":["Service"]}}]}', [true, false, true]],
  ] as const)('%s', (_name, text, expected) => {
    const pattern = parsePattern(text);
    expect([insert, modify, remove].map((record) => matches(pattern, record))).toEqual(expected);
  });

  it.each([
    ['not JSON', "{eventName:['INSERT']}"],
    ['not an object', '["INSERT"]'],
    ['empty', '{}'],
    ['a bare value instead of a list', '{"eventName":"INSERT"}'],
    ['an empty list', '{"eventName":[]}'],
    ['an unknown operator', '{"eventName":[{"startsWith":"INS"}]}'],
    ['a bad numeric comparison', '{"n":[{"numeric":["~",1]}]}'],
    ['a lone $or alternative', '{"$or":[{"eventName":["INSERT"]}]}'],
  ])('refuses a pattern that is %s', (_name, text) => {
    expect(() => parsePattern(text)).toThrow(InvalidPatternError);
  });
});
