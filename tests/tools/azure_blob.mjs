// Azure Blob Storage through Microsoft's own client (@azure/storage-blob), for the tests of
// utt's Azure store against azurite: makes a container and a SAS token for it, and reads back
// what utt uploaded. Uses azurite's documented development account (devstoreaccount1).
//
// Usage: node azure_blob.mjs create ENDPOINT CONTAINER   -> prints a SAS token (rwdl, 1 hour)
//        node azure_blob.mjs read ENDPOINT CONTAINER BLOB -> prints the blob's bytes as base64
//        node azure_blob.mjs sas ENDPOINT CONTAINER PERMISSIONS -> prints a SAS token (e.g. "r")
//        node azure_blob.mjs list ENDPOINT CONTAINER PREFIX -> prints the names of the blobs, one a line
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { BlobServiceClient, StorageSharedKeyCredential, ContainerSASPermissions,
        generateBlobSASQueryParameters } = require("@azure/storage-blob");

const account = "devstoreaccount1";
const key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const [command, endpoint, containerName, arg] = process.argv.slice(2);
const credential = new StorageSharedKeyCredential(account, key);
const container = new BlobServiceClient(endpoint, credential).getContainerClient(containerName);

function sas(permissions) {
  return generateBlobSASQueryParameters({
    containerName,
    permissions: ContainerSASPermissions.parse(permissions),
    startsOn: new Date(Date.now() - 5 * 60 * 1000),
    expiresOn: new Date(Date.now() + 60 * 60 * 1000),
  }, credential).toString();
}

if (command === "create") {
  await container.createIfNotExists();
  process.stdout.write(sas("racwdl"));
} else if (command === "sas") {
  process.stdout.write(sas(arg));
} else if (command === "read") {
  const bytes = await container.getBlobClient(arg).downloadToBuffer();
  process.stdout.write(bytes.toString("base64"));
} else if (command === "list") {
  for await (const blob of container.listBlobsFlat({ prefix: arg })) process.stdout.write(blob.name + "\n");
} else {
  console.error("unknown command " + command);
  process.exit(2);
}
