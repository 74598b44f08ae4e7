/**
 * The engine-version registry's admin operations. Versions are immutable:
 * once a version names an image it names that image for good (a running
 * game's current_image_ref must never change under it), so a new image is
 * a new version.
 *
 * register (PUT)
 *   Input: the `version` path parameter, the raw body `{"image_ref"}` and
 *   who sent it (source_ref).
 *   Output: 201-style `created` item; the stored item when the version
 *   exists with the same image (a retried release is not an error);
 *   engine_version_exists when it names another image (nothing changed);
 *   invalid_request / service_unavailable.
 *   Steps: validateVersion -> readBody (the register route's body rules:
 *   size limit, base64, JSON object, unknown fields ignored) ->
 *   validateImageRef -> createIfAbsent (conditional Put) -> compare with
 *   the stored item when it exists -> one info log line per created version.
 *
 * get
 *   Input: `version`. Output: the item, or engine_version_not_found / invalid_request.
 *
 * list
 *   Input: `limit` (1..100, default 50), `cursor`. Output: `{engine_versions,
 *   next_cursor}`; each page ordered by version string (a Scan does not
 *   return that order: the page is sorted), every version exactly once
 *   across pages.
 */
import { decodeCursor, encodeCursor } from '../domain/cursor.ts';
import { type EngineVersion, IMAGE_REF_PATTERN, IMAGE_REF_RULE } from '../domain/engine-version.ts';
import { failed, type Outcome } from '../domain/outcome.ts';
import { limitProblem, parseLimit } from '../domain/paging.ts';
import { type EngineVersionRegistry, type Log, storeOutcome } from '../ports.ts';
import { goQuote, isPlainObject, isValidVersion, NOT_AN_OBJECT, own, parseBody, VERSION_RULE } from '../register-runtime/validation.ts';

export interface PutVersionCall {
  version: string | undefined;
  body: string | undefined;
  isBase64Encoded: boolean;
  /** X-Request-Id or API Gateway's request id. */
  sourceRef: string;
}

export interface EngineVersionsPage {
  engine_versions: EngineVersion[];
  next_cursor: string | null;
}

export const VERSIONS_ROUTE = 'GET /internal/v1/engine-versions';
export const VERSIONS_LIMIT = { min: 1, max: 100, default: 50 } as const;

type Checked<T> = { ok: true; value: T } | ReturnType<typeof failed>;

export class EngineVersions {
  private readonly clock: () => Date;

  constructor(private readonly deps: { registry: EngineVersionRegistry; log: Log; clock?: () => Date }) {
    this.clock = deps.clock ?? (() => new Date());
  }

  async register(call: PutVersionCall): Promise<Outcome<EngineVersion>> {
    const version = this.validateVersion(call.version);
    if (!version.ok) return version;
    const imageRef = this.validateImageRef(call);
    if (!imageRef.ok) return imageRef;
    const item: EngineVersion = { version: version.value, image_ref: imageRef.value, created_at: this.clock().toISOString() };
    return storeOutcome(async () => {
      const result = await this.deps.registry.create(item);
      // The stored item carrying our very created_at is our own Put, retried
      // by the SDK after its first answer was lost: it was created by this call.
      if (result.created || (result.existing.image_ref === item.image_ref && result.existing.created_at === item.created_at)) {
        this.deps.log.info('engine version created', { version: item.version, image_ref: item.image_ref, source_ref: call.sourceRef });
        return { ok: true, value: item, created: true };
      }
      if (result.existing.image_ref === item.image_ref) return { ok: true, value: result.existing };
      return failed('engine_version_exists', `engine version ${goQuote(item.version)} already names another image`);
    });
  }

  async get(versionParam: string | undefined): Promise<Outcome<EngineVersion>> {
    const version = this.validateVersion(versionParam);
    if (!version.ok) return version;
    return storeOutcome(async () => {
      const item = await this.deps.registry.get(version.value);
      if (item === undefined) return failed('engine_version_not_found', `engine version ${goQuote(version.value)} not found`);
      return { ok: true, value: item };
    });
  }

  async list(input: { limit: string | undefined; cursor: string | undefined }): Promise<Outcome<EngineVersionsPage>> {
    const limit = parseLimit(input.limit, VERSIONS_LIMIT);
    if (limit === undefined) return failed('invalid_request', limitProblem(VERSIONS_LIMIT));
    const scope = { route: VERSIONS_ROUTE };
    let after: string | undefined;
    if (input.cursor !== undefined) {
      after = decodeCursor(scope, input.cursor, isValidVersion);
      if (after === undefined) return failed('invalid_request', 'cursor is not one this route issued');
    }
    return storeOutcome(async () => {
      const page = await this.deps.registry.page(limit, after);
      const sorted = page.items.sort((a, b) => (a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
      return { ok: true, value: { engine_versions: sorted, next_cursor: page.after === undefined ? null : encodeCursor(scope, page.after) } };
    });
  }

  private validateVersion(raw: string | undefined): Checked<string> {
    if (typeof raw === 'string' && isValidVersion(raw)) return { ok: true, value: raw };
    return failed('invalid_request', `version ${VERSION_RULE}`);
  }

  /** The register route's body rules, then the image_ref rule; unknown fields are ignored. */
  private validateImageRef(call: PutVersionCall): Checked<string> {
    const parsed = parseBody(call.body, call.isBase64Encoded);
    if (!parsed.ok) return failed('invalid_request', parsed.message);
    if (!isPlainObject(parsed.value)) return failed('invalid_request', NOT_AN_OBJECT);
    const imageRef = own(parsed.value, 'image_ref');
    if (typeof imageRef === 'string' && IMAGE_REF_PATTERN.test(imageRef)) return { ok: true, value: imageRef };
    return failed('invalid_request', `image_ref ${IMAGE_REF_RULE}`);
  }
}
