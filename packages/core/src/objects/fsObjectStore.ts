import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat as statFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ObjectMeta, ObjectStore, PutObjectOptions } from './objectStore.ts';

/** Ids a directory store accepts: what taskpool makes (hex, UUIDs), never a path. */
const SAFE_ID = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * Objects as files in a directory that every machine of the deployment mounts (NFS, a shared volume): `<id>` holds
 * the bytes and `<id>.meta.json` the meta. Each is written to a temporary name and renamed, the meta last, so a
 * reader on any machine finds an object whole or not at all. An expired object is deleted by the first reader
 * that finds it expired, and by {@link usage}.
 */
export class FsObjectStore implements ObjectStore {
  readonly kind = 'fs';

  constructor(private readonly dir: string) {}

  async put(id: string, bytes: Buffer, meta: Omit<ObjectMeta, 'expiresAt'>, options: PutObjectOptions = {}): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const stored: ObjectMeta = { ...meta, ...(options.ttlMs !== undefined && { expiresAt: Date.now() + options.ttlMs }) };
    await writeAtomically(this.bytesPath(id), bytes);
    await writeAtomically(this.metaPath(id), JSON.stringify(stored));
  }

  async get(id: string): Promise<{ bytes: Buffer; meta: ObjectMeta } | undefined> {
    const meta = await this.stat(id);
    if (!meta) return undefined;
    const bytes = await readFile(this.bytesPath(id)).catch(missingAsUndefined);
    return bytes ? { bytes, meta } : undefined;
  }

  async stat(id: string): Promise<ObjectMeta | undefined> {
    const text = await readFile(this.metaPath(id), 'utf8').catch(missingAsUndefined);
    if (text === undefined) return undefined;
    const meta = JSON.parse(text) as ObjectMeta;
    if (meta.expiresAt !== undefined && meta.expiresAt <= Date.now()) {
      await this.delete(id);
      return undefined;
    }
    return meta;
  }

  async delete(id: string): Promise<boolean> {
    const existed = (await statFile(this.metaPath(id)).catch(missingAsUndefined)) !== undefined;
    // The meta first: a reader that still finds the bytes without it sees no object.
    await rm(this.metaPath(id), { force: true });
    await rm(this.bytesPath(id), { force: true });
    return existed;
  }

  async usage(): Promise<{ objects: number; bytes: number }> {
    const names = await readdir(this.dir).catch(missingAsUndefined);
    let objects = 0;
    let bytes = 0;
    for (const name of names ?? []) {
      if (!name.endsWith('.meta.json')) continue;
      const meta = await this.stat(name.slice(0, -'.meta.json'.length));
      if (!meta) continue;
      objects++;
      bytes += meta.size;
    }
    return { objects, bytes };
  }

  private bytesPath(id: string): string {
    return join(this.dir, checkedId(id));
  }

  private metaPath(id: string): string {
    return join(this.dir, `${checkedId(id)}.meta.json`);
  }

}

/**
 * Writes a file under a temporary name (`<path>.<uuid>.tmp`) and renames it into place, so that a reader on any
 * machine finds it whole or not at all; the temporary file goes if the write fails.
 */
export async function writeAtomically(path: string, data: Buffer | string): Promise<void> {
  const temporary = `${path}.${randomUUID()}.tmp`;
  try {
    await writeFile(temporary, data);
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

function checkedId(id: string): string {
  if (!SAFE_ID.test(id)) throw new RangeError(`Not an object id: ${JSON.stringify(id)}`);
  return id;
}

function missingAsUndefined(error: unknown): undefined {
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
  throw error;
}
