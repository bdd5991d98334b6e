// The shape of Hub repo ids and revisions, checked before they become URLs and cache paths.

/** 'org/name' as the Hub allows it (huggingface_hub's validate_repo_id, with the org required). */
export function isRepoId(value: string): boolean {
  const m = /^([\w.-]{1,96})\/([\w.-]{1,96})$/.exec(value);
  if (!m) return false;
  const parts = [m[1] as string, m[2] as string];
  return !value.includes('--') && !value.includes('..') && parts.every((p) => !/^[.-]|[.-]$/.test(p));
}

/** A branch, tag, commit sha or refs/pr/N: it names a file under refs/, so no '..' or odd characters. */
export function isValidRevision(value: string): boolean {
  return /^[\w.\-/]+$/.test(value) && value.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}
