// Release builds (scripts/trunk-post-build.sh): gives the wasm's imports
// from wasm-bindgen's own glue module short names, in the wasm's import
// section and in the glue's import object alike.
//
// wasm-bindgen names each import after its JS function and a 16-digit hash
// (`__wbg_addEventListener_847fd86b8c33ec43`), and module './NAME_bg.js';
// the hashes are random text that no compressor shrinks, and each name is
// downloaded twice (wasm and glue). Imports from snippets (calls.js) keep
// their names: the glue hands the snippet's own module object over.
// Emscripten's `--minify-imports-and-exports` does the same; binaryen's
// pass of that name also renames the snippet imports, so it cannot be used.
//
//   node scripts/minify-wasm-imports.mjs APP_bg.wasm GLUE.js
import fs from 'node:fs';

const [wasmPath, gluePath] = process.argv.slice(2);
if (!wasmPath || !gluePath) {
  console.error('usage: minify-wasm-imports.mjs APP_bg.wasm GLUE.js');
  process.exit(2);
}
const fail = (why) => {
  console.error(`minify-wasm-imports: ${why}`);
  process.exit(1);
};

const wasm = fs.readFileSync(wasmPath);
let glue = fs.readFileSync(gluePath, 'utf8');

/** Reads an unsigned LEB128 at `at`: [value, next position]. */
const leb = (at) => {
  let value = 0;
  let shift = 0;
  for (;;) {
    const byte = wasm[at++];
    if (byte === undefined) fail('the wasm ends inside a number');
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if ((byte & 0x80) === 0) return [value, at];
  }
};
const encodeLeb = (n) => {
  const bytes = [];
  do {
    let byte = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    bytes.push(byte);
  } while (n > 0);
  return Buffer.from(bytes);
};
const encodeName = (text) => {
  const bytes = Buffer.from(text, 'utf8');
  return Buffer.concat([encodeLeb(bytes.length), bytes]);
};
/** Skips limits (a table's or memory's): flags, min, and max if flagged. */
const skipLimits = (at) => {
  const flags = wasm[at];
  let [, next] = leb(at + 1);
  if (flags & 1) [, next] = leb(next);
  return next;
};

/** Short JS identifiers: a … z, A … Z, then two letters and on. */
const shortName = (i) => {
  const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
  let name = '';
  do {
    name = letters[i % letters.length] + name;
    i = Math.floor(i / letters.length) - 1;
  } while (i >= 0);
  return name;
};

if (wasm.readUInt32LE(0) !== 0x6d736100) fail(`${wasmPath} is not a wasm module`);
const pieces = [wasm.subarray(0, 8)];
const renamed = new Map();
let at = 8;
while (at < wasm.length) {
  const id = wasm[at];
  const [size, bodyStart] = leb(at + 1);
  const end = bodyStart + size;
  if (id !== 2) {
    pieces.push(wasm.subarray(at, end));
    at = end;
    continue;
  }
  // The import section: (module, field, description) per import.
  let [count, p] = leb(bodyStart);
  const body = [encodeLeb(count)];
  for (let i = 0; i < count; i++) {
    const [moduleLength, moduleStart] = leb(p);
    const module = wasm.toString('utf8', moduleStart, moduleStart + moduleLength);
    const [fieldLength, fieldStart] = leb(moduleStart + moduleLength);
    const field = wasm.toString('utf8', fieldStart, fieldStart + fieldLength);
    const descriptionStart = fieldStart + fieldLength;
    let q = descriptionStart + 1;
    switch (wasm[descriptionStart]) {
      case 0: [, q] = leb(q); break; // function: type index
      case 1: q = skipLimits(q + 1); break; // table: element type, limits
      case 2: q = skipLimits(q); break; // memory: limits
      case 3: q += 2; break; // global: value type, mutability
      case 4: [, q] = leb(q + 1); break; // tag: attribute, type index
      default: fail(`import ${module}.${field} has an unknown kind`);
    }
    let name = field;
    if (/^\.\/[^/]+_bg\.js$/.test(module)) {
      name = shortName(renamed.size);
      renamed.set(field, name);
    }
    body.push(encodeName(module), encodeName(name), wasm.subarray(descriptionStart, q));
    p = q;
  }
  if (p !== end) fail('the import section was not read to its end');
  const section = Buffer.concat(body);
  pieces.push(Buffer.from([2]), encodeLeb(section.length), section);
  at = end;
}
if (renamed.size === 0) fail(`${wasmPath} imports nothing from wasm-bindgen's glue module`);

// The glue: each name is a key of its import object, written once.
for (const [long, short] of renamed) {
  const uses = glue.split(long).length - 1;
  if (uses !== 1) fail(`the glue names ${long} ${uses} times, not once`);
  glue = glue.replace(new RegExp(`(?<![\\w$])${long}(?![\\w$])`), short);
}
fs.writeFileSync(wasmPath, Buffer.concat(pieces));
fs.writeFileSync(gluePath, glue);
console.log(`minify-wasm-imports: ${renamed.size} imports renamed`);
