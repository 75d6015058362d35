// node tests/gltf_validate.js VALIDATOR_DIR FILE: Khronos' glTF validator's JSON report on stdout.
const fs = require('fs');
const validator = require(process.argv[2]);
const file = process.argv[3];
validator.validateBytes(new Uint8Array(fs.readFileSync(file)), {uri: file, maxIssues: 100})
  .then(report => console.log(JSON.stringify(report)))
  .catch(error => { console.error(String(error)); process.exit(2); });
