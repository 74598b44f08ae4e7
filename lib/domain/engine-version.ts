/** An engine version as the registry stores and the routes show it. */
export interface EngineVersion {
  version: string;
  image_ref: string;
  /** ISO-8601 UTC; null for a version written before the admin route existed (by hand, without it). */
  created_at: string | null;
}

/** image_ref rule: 1 to 512 characters of printable ASCII without space (`!` to `~`). */
export const IMAGE_REF_PATTERN = /^[!-~]{1,512}$/;
export const IMAGE_REF_RULE = 'must be 1 to 512 printable ASCII characters without spaces (! to ~)';
