// Reads an sgn example stream with Apache Arrow JS and prints, as JSON,
// what another Arrow implementation sees of it. Usage:
//
//	SGN_ARROWJS=/tmp/arrowjs/node_modules node crosscheck.mjs FILE
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(join(process.env.SGN_ARROWJS, 'noop.js'));
const arrow = require('apache-arrow');

const table = arrow.tableFromIPC(readFileSync(process.argv[2]));
const image = table.schema.fields.find((f) => f.name === 'image');
const label = table.getChild('label');
const first = table.getChild('image').get(0);
console.log(JSON.stringify({
  rows: table.numRows,
  fields: table.schema.fields.map((f) => `${f.name}: ${f.type}`),
  schemaMetadata: Object.fromEntries(table.schema.metadata),
  imageType: String(image.type),
  imageListSize: image.type.listSize,
  imageNullable: image.nullable,
  extensionName: image.metadata.get('ARROW:extension:name'),
  extensionMetadata: image.metadata.get('ARROW:extension:metadata'),
  firstImage: Array.from(first.toArray()),
  firstLabel: Number(label.get(0)),
}));
