/** The feature database: loaded from JSON, validated, indexed by location. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { type LatLng, locationKey } from './geo.js';

export const DEFAULT_FEATURE_DB = fileURLToPath(new URL('./route_guide_db.json', import.meta.url));

const int32 = z
  .number()
  .int()
  .min(-(2 ** 31))
  .max(2 ** 31 - 1);
const featureSchema = z.object({
  name: z.string(),
  location: z.object({ latitude: int32, longitude: int32 }),
});
const featureDbSchema = z.array(featureSchema);

export type FeatureRecord = z.infer<typeof featureSchema>;

export class FeatureDbError extends Error {
  override readonly name = 'FeatureDbError';
  readonly code = 'FEATURE_DB_INVALID';
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`cannot load feature database ${file}: ${problem}`);
  }
}

/** Reads and validates a feature file; every problem names the file and where in it. */
export function loadFeatures(file: string): FeatureRecord[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new FeatureDbError(file, code === 'ENOENT' ? 'no such file' : String(code ?? error));
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new FeatureDbError(file, `not valid JSON (${(error as Error).message})`);
  }
  const parsed = featureDbSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.length ? issue.path.join('.') : '(top level)';
    throw new FeatureDbError(
      file,
      `at ${path}: ${issue?.message ?? 'invalid'} (expected [{name, location: {latitude, longitude}}])`,
    );
  }
  return parsed.data;
}

export interface FeatureIndex {
  readonly all: readonly FeatureRecord[];
  /** The named feature at exactly this point, if any. */
  namedAt(point: LatLng): FeatureRecord | undefined;
}

export function createFeatureIndex(features: readonly FeatureRecord[]): FeatureIndex {
  const named = new Map<string, FeatureRecord>();
  for (const feature of features) {
    const key = locationKey(feature.location);
    // The first named feature at a point wins, as a linear scan in the official servers would.
    if (feature.name !== '' && !named.has(key)) named.set(key, feature);
  }
  return { all: features, namedAt: (point) => named.get(locationKey(point)) };
}
