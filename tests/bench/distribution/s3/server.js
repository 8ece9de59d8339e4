'use strict';
// The image distribution benchmark's S3 endpoint (tests/bench/distribution.sh, S3_SERVER=s3rver): s3rver,
// which keeps every object in a file under its directory and streams request and response bodies (an upload
// is written to disk as it arrives, a download is read from disk as it is sent), so concurrent downloads of a
// large object do not each hold it in memory. Requests are signed (SigV4, headers or presigned query) with
// the benchmark's key pair, from the environment: every other key is refused.
//
// Usage: NODE_PATH=<node_modules> node server.js DIRECTORY ADDRESS PORT
const fs = require('fs');
const S3rver = require('s3rver');
const AWSAccount = require('s3rver/lib/models/account');

const [directory, address, port] = process.argv.slice(2);
const accessKeyId = process.env.AWS_ACCESS_KEY_ID;
const secretAccessKey = process.env.AWS_SECRET_ACCESS_KEY;
if (!directory || !address || !port || !accessKeyId || !secretAccessKey) {
  console.error('usage: AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... node server.js DIRECTORY ADDRESS PORT');
  process.exit(2);
}
// s3rver lists its buckets from the folders in its directory: it must exist.
fs.mkdirSync(directory, { recursive: true });
// s3rver knows one account, with a fixed key pair: the benchmark's key pair replaces it.
AWSAccount.DUMMY_ACCOUNT.revokeAccessKey('S3RVER');
AWSAccount.DUMMY_ACCOUNT.createKeyPair(accessKeyId, secretAccessKey);

// The container's first process: a stop signal ends it (no default action for process 1).
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => process.exit(0));
}

new S3rver({ directory, address, port: Number(port), silent: true, vhostBuckets: false })
  .run()
  .then(({ address: host, port: bound }) => console.log('s3rver listening on %s:%d, objects in %s', host, bound, directory))
  .catch(error => {
    console.error(error);
    process.exit(1);
  });
