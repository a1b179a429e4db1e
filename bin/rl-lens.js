#!/usr/bin/env node
// RL Lens command line: train, validate, doctor, import, bench. The code lives in the trainer bundle.
'use strict';
const path = require('path');
const fs = require('fs');
const bundle = path.join(__dirname, '..', 'dist', 'trainer.js');
if (!fs.existsSync(bundle)) {
  console.error(`rl-lens: ${bundle} is missing: run "npm run build" first (or "npm ci", which builds).`);
  process.exit(2);
}
require(bundle).main(process.argv.slice(2)).then(
  (code) => { process.exitCode = typeof code === 'number' ? code : 0; },
  (err) => { console.error(`rl-lens: ${err && err.message ? err.message : err}`); process.exitCode = 1; },
);
