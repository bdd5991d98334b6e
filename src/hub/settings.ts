// Where the Hub client talks to, as whom, where it caches, and whether it may use the network:
// read from the environment variables huggingface_hub (Python) reads, with its defaults, so a
// machine set up for Python (HF_HOME, a saved token, an offline flag, a mirror) works unchanged.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface HubSettings {
  /** Base URL of the Hub (HF_ENDPOINT), without a trailing slash. Default https://huggingface.co. */
  endpoint: string;
  /** Access token sent as `Authorization: Bearer` (HF_TOKEN, else the file `hf auth login` saved). */
  token?: string;
  /** Root of the models--org--name folders (HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub). */
  cacheDir: string;
  /** HF_HUB_OFFLINE: never touch the network, use only what is cached. */
  offline: boolean;
}

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

type Env = Record<string, string | undefined>;

/** huggingface_hub's truthy spellings of a boolean variable. */
function isTrue(value: string | undefined): boolean {
  return value !== undefined && ['1', 'ON', 'YES', 'TRUE'].includes(value.trim().toUpperCase());
}

function nonEmpty(value: string | undefined): string | undefined {
  const v = value?.trim();
  return v ? v : undefined;
}

function hfHome(env: Env): string {
  return nonEmpty(env.HF_HOME) ?? join(nonEmpty(env.XDG_CACHE_HOME) ?? join(homedir(), '.cache'), 'huggingface');
}

export function hubCacheDir(env: Env = process.env): string {
  // HUGGINGFACE_HUB_CACHE is the older name Python still honours.
  return nonEmpty(env.HF_HUB_CACHE) ?? nonEmpty(env.HUGGINGFACE_HUB_CACHE) ?? join(hfHome(env), 'hub');
}

function savedToken(env: Env): string | undefined {
  const path = nonEmpty(env.HF_TOKEN_PATH) ?? join(hfHome(env), 'token');
  if (!existsSync(path)) return undefined;
  try {
    return nonEmpty(readFileSync(path, 'utf8'));
  } catch {
    return undefined; // an unreadable token file is the same as none: requests go anonymous
  }
}

export function hubSettingsFromEnv(env: Env = process.env): HubSettings {
  const token = nonEmpty(env.HF_TOKEN) ?? nonEmpty(env.HUGGING_FACE_HUB_TOKEN) ?? savedToken(env);
  return {
    endpoint: (nonEmpty(env.HF_ENDPOINT) ?? DEFAULT_ENDPOINT).replace(/\/+$/, ''),
    ...(token !== undefined ? { token } : {}),
    cacheDir: hubCacheDir(env),
    offline: isTrue(env.HF_HUB_OFFLINE),
  };
}
