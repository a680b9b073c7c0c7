// Signs requests with the AWS SDK's own SigV4 signer (@smithy/signature-v4), so the tests can
// compare utt's signatures with it (the S3 emulator the tests use does not check signatures).
//
// Usage: node sigv4_reference.mjs REQUESTS.json
// REQUESTS.json: {"region", "amz_date": "YYYYMMDDTHHMMSSZ", "credentials": {"accessKeyId",
// "secretAccessKey", "sessionToken"?}, "requests": [{"method", "url", "headers": {name: value}}]}
// with the URL as sent (path percent-encoded) and every header to sign but x-amz-date.
// Prints a JSON array: each request's Authorization header.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { SignatureV4 } = require("@smithy/signature-v4");
const { Hash } = require("@smithy/hash-node");

const input = JSON.parse(readFileSync(process.argv[2], "utf8"));
const d = input.amz_date;
const signingDate = new Date(Date.UTC(+d.slice(0, 4), +d.slice(4, 6) - 1, +d.slice(6, 8), +d.slice(9, 11),
                                      +d.slice(11, 13), +d.slice(13, 15)));
const credentials = { ...input.credentials };
if (!credentials.sessionToken) delete credentials.sessionToken;
// S3's settings in the SDK: paths are signed as sent (no second encoding, no normalization).
const signer = new SignatureV4({ credentials, region: input.region, service: "s3",
                                 sha256: Hash.bind(null, "sha256"), uriEscapePath: false, applyChecksum: true });
const out = [];
for (const request of input.requests) {
  const url = new URL(request.url);
  const query = {};
  for (const [name, value] of url.searchParams) query[name] = value;
  const signed = await signer.sign({
    method: request.method,
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port ? Number(url.port) : undefined,
    path: url.pathname,
    query,
    headers: request.headers,
  }, { signingDate });
  out.push(signed.headers.authorization ?? signed.headers.Authorization);
}
process.stdout.write(JSON.stringify(out));
