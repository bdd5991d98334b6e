// Which presets are already in the Hugging Face cache, and how big they are there: what
// `sft models` reports. Looks at the disk only.
import { findCachedModel, snapshotBytes } from './cache.js';
import { MODEL_PRESETS } from './presets.js';

export interface PresetStatus {
  preset: string;
  repo: string;
  family: string;
  description: string;
  /** A complete snapshot of the repo's main branch is in the cache. */
  cached: boolean;
  /** The snapshot folder, when cached. */
  path?: string;
  /** Bytes its files take (each blob once), when cached. */
  bytes?: number;
  commit?: string;
}

export function presetCacheStatus(cacheDir: string): PresetStatus[] {
  return MODEL_PRESETS.map((p) => {
    const base = { preset: p.name, repo: p.repo, family: p.family, description: p.description };
    const cached = findCachedModel(cacheDir, p.repo, 'main');
    if (!cached) return { ...base, cached: false };
    return { ...base, cached: true, path: cached.dir, bytes: snapshotBytes(cached.dir), commit: cached.commit };
  });
}
