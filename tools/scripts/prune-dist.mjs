#!/usr/bin/env node
// Part of a public library's prepack (after its build): deletes the files in dist/ whose source in
// src/ is gone, so a tarball packed from a working copy never ships code that no longer exists.
// tsc --build rewrites what it emits but never removes the outputs of a deleted source; deleting
// only those, rather than all of dist/, leaves the build in place for whoever is using it.
import { existsSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const dist = 'dist';
const src = 'src';

/** The source file in src/ that `file` (a path under dist/) is built from. */
const sourceOf = (file) => join(src, relative(dist, file).replace(/(\.d\.ts\.map|\.d\.ts|\.js\.map|\.js)$/, '.ts'));

function prune(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      prune(path);
      if (readdirSync(path).length === 0) rmdirSync(path);
    } else if (!entry.name.endsWith('.tsbuildinfo') && !existsSync(sourceOf(path))) {
      rmSync(path);
      console.error(`prune-dist: removed ${path} (its source is gone)`);
    }
  }
}

if (existsSync(dist)) prune(dist);
