// upload.mjs uploads one file to a tus 1.0.0 server with tus-js-client, the
// client of Shopfront's web and React Native apps, in 1 MiB chunks, and
// prints the upload's URL once the server has every byte.
//
//	TUS_TOKEN=<jwt> node upload.mjs <endpoint> <file> <filename> <contentType>
//
// The token comes from the environment, not the arguments, so that it never
// shows in a process listing. Any failure exits 1 with the reason on stderr.
import { readFileSync } from "node:fs";
import { Upload } from "tus-js-client";

const [endpoint, path, filename, contentType] = process.argv.slice(2);
const token = process.env.TUS_TOKEN;
if (!endpoint || !path || !filename || !contentType || !token) {
  console.error("usage: TUS_TOKEN=<jwt> node upload.mjs <endpoint> <file> <filename> <contentType>");
  process.exit(2);
}

const file = readFileSync(path);
let chunks = 0;
const upload = new Upload(file, {
  endpoint,
  chunkSize: 1 << 20,
  headers: { Authorization: `Bearer ${token}` },
  metadata: { filename, contentType },
  // A refusal must fail the run, not be retried into a pass.
  retryDelays: null,
  onChunkComplete: () => {
    chunks++;
  },
  onError: (err) => {
    console.error(`upload failed: ${err}`);
    process.exit(1);
  },
  onSuccess: () => {
    console.log(JSON.stringify({ url: upload.url, chunks }));
  },
});
upload.start();
