"""An independent forward pass of Hugging Face's LlamaForCausalLM and GPT2LMHeadModel, written
from transformers' documented semantics (modeling_llama.py, modeling_gpt2.py), in float64 PyTorch.
It reads an exported folder (config.json, model.safetensors) with its own safetensors parser and
reports next-token log-probabilities, for the tests to compare with utt's.

    /usr/bin/python3 hf_reference.py FOLDER REQUEST.json [ADAPTER_FOLDER] > RESULT.json

With ADAPTER_FOLDER (PEFT's adapter_config.json + adapter_model.safetensors), the adapters are
merged into the weights first, as PEFT's LoRA merge does: W += (lora_alpha / r) * B @ A per
module (rank_pattern / alpha_pattern override r and lora_alpha by module-name suffix;
fan_in_fan_out modules, GPT-2's Conv1D, receive the transpose).

REQUEST: {"windows": [[id...]...]}; RESULT: {"logprobs": [[lp...]...]}, lp[t] = log p(w[t+1] | w[..t]).
Exits 77 (and says why) when torch is missing.
"""
import json
import math
import struct
import sys

try:
    import torch
except ImportError:
    print("torch is not installed for this python (Debian: apt-get install python3-torch)", file=sys.stderr)
    sys.exit(77)


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + header_len])
    base = 8 + header_len
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = bytearray(data[base + begin:base + end])
        dtype = info["dtype"]
        if dtype == "F32":
            t = torch.frombuffer(raw, dtype=torch.float32)
        elif dtype == "F16":
            t = torch.frombuffer(raw, dtype=torch.float16)
        elif dtype == "BF16":
            t = torch.frombuffer(raw, dtype=torch.bfloat16)
        else:
            raise SystemExit(f"{path}: unexpected dtype {dtype} for {name}")
        tensors[name] = t.to(torch.float64).reshape(info["shape"])
    return tensors


def causal_attention(q, k, v):
    # q: (H, T, D); k, v: (H, T, D). Scores scaled by 1/sqrt(D), causal mask.
    T, D = q.shape[1], q.shape[2]
    scores = q @ k.transpose(1, 2) / math.sqrt(D)
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    scores = scores.masked_fill(mask, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


def llama_logits(cfg, w, ids):
    H = cfg["hidden_size"]
    n = cfg["num_attention_heads"]
    k = cfg.get("num_key_value_heads") or n
    d = cfg.get("head_dim") or H // n
    eps = cfg["rms_norm_eps"]
    theta = cfg.get("rope_parameters", {}).get("rope_theta", cfg.get("rope_theta", 10000.0))
    T = len(ids)

    def rmsnorm(x, weight):
        return weight * (x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps))

    # rotate_half RoPE: frequency i rotates the pair (i, i + d/2).
    inv_freq = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    freqs = torch.outer(torch.arange(T, dtype=torch.float64), inv_freq)
    emb = torch.cat([freqs, freqs], dim=-1)
    cos, sin = emb.cos(), emb.sin()

    def rotate_half(x):
        return torch.cat([-x[..., d // 2:], x[..., :d // 2]], dim=-1)

    def linear(x, name):
        y = x @ w[name + ".weight"].T
        return y + w[name + ".bias"] if name + ".bias" in w else y

    x = w["model.embed_tokens.weight"][torch.tensor(ids)]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = rmsnorm(x, w[p + "input_layernorm.weight"])
        q = linear(h, p + "self_attn.q_proj").reshape(T, n, d).transpose(0, 1)
        kk = linear(h, p + "self_attn.k_proj").reshape(T, k, d).transpose(0, 1)
        v = linear(h, p + "self_attn.v_proj").reshape(T, k, d).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        kk = kk * cos + rotate_half(kk) * sin
        kk = kk.repeat_interleave(n // k, dim=0)  # repeat_kv: query head h reads kv head h // (n/k)
        v = v.repeat_interleave(n // k, dim=0)
        a = causal_attention(q, kk, v).transpose(0, 1).reshape(T, n * d)
        x = x + linear(a, p + "self_attn.o_proj")
        h = rmsnorm(x, w[p + "post_attention_layernorm.weight"])
        gate = linear(h, p + "mlp.gate_proj")
        x = x + linear(torch.nn.functional.silu(gate) * linear(h, p + "mlp.up_proj"), p + "mlp.down_proj")
    x = rmsnorm(x, w["model.norm.weight"])
    head = w["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", False) else w["lm_head.weight"]
    return x @ head.T


def gpt2_logits(cfg, w, ids):
    C = cfg["n_embd"]
    n = cfg["n_head"]
    d = C // n
    eps = cfg["layer_norm_epsilon"]
    T = len(ids)
    act = cfg.get("activation_function", "gelu_new")

    def layernorm(x, name):
        mean = x.mean(-1, keepdim=True)
        var = ((x - mean) ** 2).mean(-1, keepdim=True)
        return (x - mean) / torch.sqrt(var + eps) * w[name + ".weight"] + w[name + ".bias"]

    def conv1d(x, name):  # Conv1D: weight [in, out], y = x W + b
        return x @ w[name + ".weight"] + w[name + ".bias"]

    def activation(x):
        if act == "gelu_new":
            return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))
        if act == "relu":
            return torch.relu(x)
        if act in ("silu", "swish"):
            return torch.nn.functional.silu(x)
        raise SystemExit(f"unexpected activation_function {act}")

    x = w["transformer.wte.weight"][torch.tensor(ids)] + w["transformer.wpe.weight"][:T]
    for i in range(cfg["n_layer"]):
        p = f"transformer.h.{i}."
        qkv = conv1d(layernorm(x, p + "ln_1"), p + "attn.c_attn")
        q, k, v = (t.reshape(T, n, d).transpose(0, 1) for t in qkv.split(C, dim=-1))
        a = causal_attention(q, k, v).transpose(0, 1).reshape(T, C)
        x = x + conv1d(a, p + "attn.c_proj")
        x = x + conv1d(activation(conv1d(layernorm(x, p + "ln_2"), p + "mlp.c_fc")), p + "mlp.c_proj")
    x = layernorm(x, "transformer.ln_f")
    head = w["transformer.wte.weight"] if cfg.get("tie_word_embeddings", True) else w["lm_head.weight"]
    return x @ head.T


def merge_peft_adapters(w, folder):
    with open(folder + "/adapter_config.json") as f:
        cfg = json.load(f)
    if cfg.get("peft_type") != "LORA" or cfg.get("use_dora") or cfg.get("use_rslora"):
        raise SystemExit("only plain LoRA adapters are handled here")
    adapters = read_safetensors(folder + "/adapter_model.safetensors")
    prefix = "base_model.model."
    modules = sorted({name[len(prefix):name.index(".lora_")] for name in adapters})
    for module in modules:
        a = adapters[prefix + module + ".lora_A.weight"]
        b = adapters[prefix + module + ".lora_B.weight"]
        r, alpha = cfg["r"], cfg["lora_alpha"]
        for key, value in cfg.get("rank_pattern", {}).items():
            if module == key or module.endswith("." + key):
                r = value
        for key, value in cfg.get("alpha_pattern", {}).items():
            if module == key or module.endswith("." + key):
                alpha = value
        assert a.shape[0] == r and b.shape[1] == r, (module, a.shape, b.shape, r)
        delta = (alpha / r) * (b @ a)
        if cfg.get("fan_in_fan_out"):
            delta = delta.T
        w[module + ".weight"] = w[module + ".weight"] + delta


def main():
    folder, request_path = sys.argv[1], sys.argv[2]
    with open(folder + "/config.json") as f:
        cfg = json.load(f)
    with open(request_path) as f:
        request = json.load(f)
    w = read_safetensors(folder + "/model.safetensors")
    if len(sys.argv) > 3:
        merge_peft_adapters(w, sys.argv[3])
    forward = {"llama": llama_logits, "gpt2": gpt2_logits}[cfg["model_type"]]
    result = {"logprobs": []}
    with torch.no_grad():
        for window in request["windows"]:
            logits = forward(cfg, w, window[:-1])
            logprobs = torch.log_softmax(logits, dim=-1)
            result["logprobs"].append([logprobs[t, window[t + 1]].item() for t in range(len(window) - 1)])
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
