// `src` is a symlink to sse_service/static, where the service serves these same files,
// so the repository holds one copy of the client. npm pack leaves symlinks out; this
// swaps the link for a real copy of the packaged files before packing ("materialize")
// and puts the link back afterwards ("restore").
import { cpSync, lstatSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const link = join(root, 'src');
const target = '../../sse_service/static';
const { files } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

const action = process.argv[2];
if (action === 'materialize') {
  if (!lstatSync(link).isSymbolicLink()) process.exit(0);
  const staging = join(root, '.src-copy');
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging);
  for (const file of files.filter((name) => name.startsWith('src/'))) {
    cpSync(join(link, file.slice(4)), join(staging, file.slice(4)));
  }
  rmSync(link);
  cpSync(staging, link, { recursive: true });
  rmSync(staging, { recursive: true });
} else if (action === 'restore') {
  if (lstatSync(link).isSymbolicLink()) process.exit(0);
  rmSync(link, { recursive: true });
  symlinkSync(target, link);
} else {
  console.error('usage: node scripts/pack-sources.mjs materialize|restore');
  process.exit(2);
}
