// Runs a GGUF file in llama.cpp (the prebuilt library inside node-llama-cpp) and reports what it
// computes, for the tests to compare with utt's own results:
//
//   node llama_cpp_check.mjs MODEL.gguf REQUEST.json > RESULT.json
//
// REQUEST: {"texts": [string...],            tokenized with llama.cpp's tokenizer
//           "windows": [[id...]...],          next-token log-probabilities at every position
//           "prompt_ids": [id...], "max_new_tokens": N}   greedy continuation
// RESULT:  {"tokens": [[id...]...], "logprobs": [[lp...]...] (lp[t] = log p(window[t+1] | window[..t])),
//           "greedy": [id...], "greedy_margins": [m...]}
// greedy_margins[i]: how far the chosen token's logit stood above the runner-up's at step i, so a
// test can tell a near tie (where float rounding may pick either) from a real disagreement.
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

const result = {tokens: [], logprobs: [], greedy: [], greedy_margins: []};
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
  // Greedy by hand, one token at a time, to see each step's logits.
  const {context, sequence} = await freshSequence(request.prompt_ids.length + request.max_new_tokens + 32);
  let inputs = request.prompt_ids;
  while (result.greedy.length < request.max_new_tokens) {
    const outputs = await sequence.controlledEvaluate(
        inputs.map((token, i) => (i === inputs.length - 1 ? [token, {generateNext: {logits: true}}] : token)));
    const logits = outputs[inputs.length - 1].next.logits;
    let best = -1, bestValue = -Infinity, runnerUp = -Infinity;
    for (const [token, value] of logits.entries()) {
      if (value > bestValue) {
        runnerUp = bestValue;
        best = token;
        bestValue = value;
      } else if (value > runnerUp) {
        runnerUp = value;
      }
    }
    result.greedy.push(best);
    result.greedy_margins.push(bestValue - runnerUp);
    if (model.isEogToken(best)) break;
    inputs = [best];
  }
  await context.dispose();
}

await model.dispose();
process.stdout.write(JSON.stringify(result) + "\n");
