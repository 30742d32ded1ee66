// Reads an sgn stream (.arrows, zstd-compressed or not) with Apache Arrow
// JS and prints, as JSON, its rows, its tensor columns' shapes and the
// first example. Arrow JS decompresses zstd record batches only with a
// codec registered for them: here fzstd's pure-JavaScript decoder.
//
//   npm install apache-arrow fzstd
//   node read-stream.mjs test.arrows
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

// Packages from NODE_MODULES when set (the tests' npm prefix), otherwise
// from where node finds them.
const require = createRequire(join(process.env.NODE_MODULES ?? process.cwd(), 'noop.js'));
const { tableFromIPC, compressionRegistry, CompressionType } = require('apache-arrow');
const { decompress } = require('fzstd');

compressionRegistry.set(CompressionType.ZSTD, { decode: (data) => decompress(data) });

const table = tableFromIPC(readFileSync(process.argv[2]));

// A tensor column is a FixedSizeList whose field carries the
// arrow.fixed_shape_tensor extension and its shape.
const shapes = {};
for (const f of table.schema.fields) {
  if (f.metadata.get('ARROW:extension:name') === 'arrow.fixed_shape_tensor') {
    shapes[f.name] = JSON.parse(f.metadata.get('ARROW:extension:metadata')).shape;
  }
}
// Each row of a tensor column is a typed array of the tensor's values in
// row-major order: pixels (uint8, times sgn.pixel_scale for [0,1]) or
// float32 values such as sgn-grad's gradients and self-gradients.
const first = Object.fromEntries(Object.keys(shapes).map((name) => [name, Array.from(table.getChild(name).get(0))]));
console.log(JSON.stringify({
  rows: table.numRows,
  dataset: table.schema.metadata.get('sgn.dataset'),
  pixelScale: Number(table.schema.metadata.get('sgn.pixel_scale') ?? 1),
  shapes,
  firstLabel: Number(table.getChild('label').get(0)),
  first,
}));
