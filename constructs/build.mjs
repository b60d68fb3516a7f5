// Builds @cellkiosk/constructs into dist/: `npm run build` here, and `npm pack` runs it (prepack).
// dist/esm: ES modules + .d.ts (tsconfig.build.json); dist/cjs: CommonJS + .d.ts (tsconfig.build.cjs.json),
// marked "type": "commonjs" by a package.json of its own, since this package is "type": "module".
// Two tsc runs rather than a bundler: each output file is the same module as its source, with declarations
// from the same compiler that type-checks the repository.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

rmSync(join(here, 'dist'), { recursive: true, force: true });
for (const config of ['tsconfig.build.json', 'tsconfig.build.cjs.json']) {
  execFileSync(process.execPath, [tsc, '-p', join(here, config)], { stdio: 'inherit' });
}
mkdirSync(join(here, 'dist', 'cjs'), { recursive: true });
writeFileSync(join(here, 'dist', 'cjs', 'package.json'), `${JSON.stringify({ type: 'commonjs' })}\n`);
