// SHA-256 of model files, streamed (checkpoints can be several GB), for the sidecar.
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';

export interface FileHash {
  path: string;
  bytes: number;
  sha256: string;
}

export async function hashFile(path: string): Promise<FileHash> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 22 })) h.update(chunk as Buffer);
  return { path, bytes: statSync(path).size, sha256: h.digest('hex') };
}
