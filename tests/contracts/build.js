// Compile tests/contracts/TestTokens.sol with solc-js (npm `solc@0.8.28`) and print
// "<contract> <runtime bytecode hex>" per line; .ci/run checks the committed *.bin-runtime
// files against it. Usage: NODE_PATH=target/npm/node_modules node build.js TestTokens.sol
const solc = require('solc');
const fs = require('fs');
const src = fs.readFileSync(process.argv[2], 'utf8');
const input = {language: 'Solidity', sources: {'TestTokens.sol': {content: src}},
  settings: {optimizer: {enabled: true, runs: 200}, evmVersion: 'paris',
    outputSelection: {'*': {'*': ['evm.deployedBytecode.object']}}}};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
for (const e of out.errors || []) { if (e.severity === 'error') { console.error(e.formattedMessage); process.exit(1); } }
for (const [name, c] of Object.entries(out.contracts['TestTokens.sol'])) {
  console.log(name + ' ' + c.evm.deployedBytecode.object);
}
