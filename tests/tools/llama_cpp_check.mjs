// Runs a GGUF file in llama.cpp (the prebuilt library inside node-llama-cpp) and reports what it
// computes, for the tests to compare with utt's own results:
//
//   node llama_cpp_check.mjs MODEL.gguf REQUEST.json > RESULT.json
//
// REQUEST: {"texts": [string...],            tokenized with llama.cpp's tokenizer
//           "windows": [[id...]...],          next-token log-probabilities at every position
//           "prompt_ids": [id...], "max_new_tokens": N}   greedy continuation
// RESULT:  {"tokens": [[id...]...], "logprobs": [[lp...]...] (lp[t] = log p(window[t+1] | window[..t])),
//           "greedy": [id...]}
//
// The context uses an F32 KV cache and no flash attention, so llama.cpp computes in f32 as utt does
// (its defaults, an F16 cache and flash attention, move log-probabilities by about 1e-3).
import {readFileSync} from "node:fs";
import {getLlama} from "node-llama-cpp";

const [modelPath, requestPath] = process.argv.slice(2);
const request = JSON.parse(readFileSync(requestPath, "utf8"));

const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const model = await llama.loadModel({modelPath, gpuLayers: 0});

async function freshSequence(contextSize) {
  const context = await model.createContext({
    contextSize, batchSize: contextSize, flashAttention: false, threads: 2,
    experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32",
  });
  return {context, sequence: context.getSequence()};
}

function logSoftmaxAt(logits, target) {
  let max = -Infinity;
  for (const value of logits.values()) max = Math.max(max, value);
  let sum = 0;
  for (const value of logits.values()) sum += Math.exp(value - max);
  return logits.get(target) - max - Math.log(sum);
}

const result = {tokens: [], logprobs: [], greedy: []};
for (const text of request.texts ?? []) result.tokens.push(Array.from(model.tokenize(text, false)));

for (const window of request.windows ?? []) {
  const inputs = window.slice(0, -1);
  // Room beyond the window: a full context makes node-llama-cpp shift it (dropping early tokens).
  const {context, sequence} = await freshSequence(inputs.length + 32);
  const outputs = await sequence.controlledEvaluate(
      inputs.map((token) => [token, {generateNext: {logits: true}}]));
  result.logprobs.push(inputs.map((_, t) => logSoftmaxAt(outputs[t].next.logits, window[t + 1])));
  await context.dispose();
}

if (request.prompt_ids) {
  const {context, sequence} = await freshSequence(request.prompt_ids.length + request.max_new_tokens + 32);
  for await (const token of sequence.evaluate(request.prompt_ids, {temperature: 0})) {
    result.greedy.push(token);
    if (result.greedy.length >= request.max_new_tokens || model.isEogToken(token)) break;
  }
  await context.dispose();
}

await model.dispose();
process.stdout.write(JSON.stringify(result) + "\n");
