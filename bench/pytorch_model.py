"""The anchor for bench/vs_pytorch: utt's decoder-only transformer written in plain PyTorch.

Architecture as src/model/transformer.cpp and src/model/parameter_layout.cpp build it:
pre-norm blocks `x += wo(attn(norm1(x))); x += ffn(norm2(x))`, final norm, LM head tied to the
token embeddings; no linear biases (utt's --no-rmsnorm/--no-swiglu/--no-rope keep them off too).
llama style: RMSNorm (eps 1e-5), SwiGLU, RoPE rotate-half (theta 10000).
gpt2 style: LayerNorm with bias (eps 1e-5), MLP with tanh-GELU, learned positions.
Causal multi-head attention; AdamW betas (0.9, 0.95), eps 1e-8, decay on matrices only;
gradient clipping at 1.0; dropout 0; linear warm-up then cosine, as utt's schedule.

  python3 bench/pytorch_model.py step   --style llama --d-model 128 ... [--bf16]
  python3 bench/pytorch_model.py ceiling --d-model 128 ...
  python3 bench/pytorch_model.py train  --d-model 128 ... --train-ids T --val-ids V --steps N

`step` prints one JSON line with the per-step seconds; `ceiling` prints the fp32 (OpenBLAS and
oneDNN) and bf16 matmul rates on the model's own matmul shapes. For both the token ids are
uniform random: a dense step costs the same whatever the ids are. `train` (bench/window_mix)
trains on real token ids (files of one document's ids per line, as `utt tokenizer encode`
writes them), each batch B windows drawn uniformly at random from the whole training stream
(documents joined by --eos-id), and prints the loss on the validation stream tiled as `utt eval`
tiles it (windows of seq_len + 1 every seq_len tokens from the start, full batches only).
"""
import argparse
import json
import math
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(seq_len, head_dim, theta=10000.0):
    inv_freq = theta ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    angles = torch.arange(seq_len, dtype=torch.float64)[:, None] * inv_freq[None, :]
    angles = torch.cat([angles, angles], dim=-1)  # dimension i pairs with i + head_dim/2
    return angles.cos().float(), angles.sin().float()


def apply_rope(x, cos, sin):  # x: (B, H, T, hs)
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rotated * sin


class Block(nn.Module):
    def __init__(self, a):
        super().__init__()
        llama = a.style == "llama"
        norm = (lambda: RMSNorm(a.d_model)) if llama else (lambda: nn.LayerNorm(a.d_model, eps=1e-5))
        self.llama = llama
        self.heads = a.num_heads
        self.attention_norm = norm()
        self.wq = nn.Linear(a.d_model, a.d_model, bias=False)
        self.wk = nn.Linear(a.d_model, a.d_model, bias=False)
        self.wv = nn.Linear(a.d_model, a.d_model, bias=False)
        self.wo = nn.Linear(a.d_model, a.d_model, bias=False)
        self.ffn_norm = norm()
        if llama:
            self.w_gate = nn.Linear(a.d_model, a.d_ff, bias=False)
        self.w_up = nn.Linear(a.d_model, a.d_ff, bias=False)
        self.w_down = nn.Linear(a.d_ff, a.d_model, bias=False)

    def attention(self, x, rope, mask):
        B, T, C = x.shape
        hs = C // self.heads
        q, k, v = (w(x).view(B, T, self.heads, hs).transpose(1, 2) for w in (self.wq, self.wk, self.wv))
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))
        scores = scores.masked_fill(mask, float("-inf"))
        out = torch.softmax(scores, dim=-1) @ v
        return self.wo(out.transpose(1, 2).reshape(B, T, C))

    def forward(self, x, rope, mask):
        x = x + self.attention(self.attention_norm(x), rope, mask)
        h = self.ffn_norm(x)
        if self.llama:
            h = F.silu(self.w_gate(h)) * self.w_up(h)
        else:
            h = F.gelu(self.w_up(h), approximate="tanh")
        return x + self.w_down(h)


class Transformer(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.llama = a.style == "llama"
        self.tok_embeddings = nn.Embedding(a.vocab_size, a.d_model)
        if not self.llama:
            self.pos_embeddings = nn.Embedding(a.seq_len, a.d_model)
        self.layers = nn.ModuleList(Block(a) for _ in range(a.num_layers))
        self.norm = RMSNorm(a.d_model) if self.llama else nn.LayerNorm(a.d_model, eps=1e-5)
        cos, sin = rope_tables(a.seq_len, a.d_model // a.num_heads)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        mask = torch.triu(torch.ones(a.seq_len, a.seq_len, dtype=torch.bool), diagonal=1)
        self.register_buffer("mask", mask, persistent=False)
        residual_std = 0.02 / math.sqrt(2 * a.num_layers)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = residual_std if name.endswith(("wo.weight", "w_down.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)

    def forward(self, inputs, targets):
        T = inputs.shape[1]
        x = self.tok_embeddings(inputs)
        rope = None
        if self.llama:
            rope = (self.rope_cos[:T], self.rope_sin[:T])
        else:
            x = x + self.pos_embeddings.weight[:T]
        mask = self.mask[:T, :T]
        for layer in self.layers:
            x = layer(x, rope, mask)
        logits = self.norm(x) @ self.tok_embeddings.weight.t()  # tied LM head
        return F.cross_entropy(logits.float().view(-1, logits.shape[-1]), targets.reshape(-1))


def lr_at(step, lr, warmup, total, min_ratio=0.1):
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return lr * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def model_and_optimizer(a):
    """The seeded model and utt's AdamW: weight decay on matrices only, betas (0.9, 0.95)."""
    torch.manual_seed(a.seed)
    model = Transformer(a)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": a.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=a.learning_rate, betas=(0.9, 0.95), eps=1e-8)
    return model, optimizer


def train_steps(a):
    model, optimizer = model_and_optimizer(a)
    total = a.warmup + a.steps
    seconds = []
    for step in range(total):
        batch = torch.randint(0, a.vocab_size, (a.batch_size, a.seq_len + 1))
        inputs, targets = batch[:, :-1].contiguous(), batch[:, 1:].contiguous()
        start = time.perf_counter()
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, a.learning_rate, a.warmup_steps, total)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.bf16):
            loss = model(inputs, targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        loss_value = loss.item()
        seconds.append(time.perf_counter() - start)
    measured = seconds[a.warmup:]
    median = statistics.median(measured)
    print(json.dumps({
        "style": a.style, "bf16": a.bf16, "median_step_s": median,
        "min_step_s": min(measured), "max_step_s": max(measured),
        "tokens_per_s": a.batch_size * a.seq_len / median, "last_loss": loss_value,
        "parameters": sum(p.numel() for p in model.parameters())}))


def read_stream(path, eos_id):
    """A file of documents' ids, one document per line, joined by end of text."""
    ids = []
    with open(path) as f:
        for line in f:
            ids.extend(int(t) for t in line.split())
            ids.append(eos_id)
    return torch.tensor(ids, dtype=torch.long)


def validation_loss(model, stream, a):
    window = a.seq_len + 1
    starts = list(range(0, len(stream) - window + 1, a.seq_len))
    batches = len(starts) // a.batch_size
    total = 0.0
    model.eval()
    with torch.no_grad():
        for b in range(batches):
            rows = torch.stack([stream[s:s + window] for s in starts[b * a.batch_size:(b + 1) * a.batch_size]])
            total += model(rows[:, :-1], rows[:, 1:]).item()
    return total / batches, batches


def train_on_tokens(a):
    model, optimizer = model_and_optimizer(a)
    train = read_stream(a.train_ids, a.eos_id)
    generator = torch.Generator().manual_seed(a.seed)
    offsets = torch.arange(a.seq_len + 1)
    for step in range(a.steps):
        starts = torch.randint(0, len(train) - a.seq_len, (a.batch_size,), generator=generator)
        batch = train[starts[:, None] + offsets[None, :]]
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, a.learning_rate, a.warmup_steps, a.steps)
        loss = model(batch[:, :-1], batch[:, 1:])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    last_train_loss = loss.item()
    val_loss, batches = validation_loss(model, read_stream(a.val_ids, a.eos_id), a)
    print(json.dumps({"sampling": "random windows", "steps": a.steps, "val_loss": val_loss,
                      "val_batches": batches, "last_train_loss": last_train_loss}))


def matmul_shapes(a):
    """(M, K, N, count) of one step's forward matmuls, as utt groups them (qkv fused, gate+up fused)."""
    M = a.batch_size * a.seq_len
    C, F_, V, L = a.d_model, a.d_ff, a.vocab_size, a.num_layers
    return [(M, C, 3 * C, L), (M, C, C, L), (M, C, 2 * F_, L), (M, F_, C, L), (M, C, V, 1)]


def best_seconds(fn, repeats):
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def ceiling(a):
    """FLOP-weighted matmul rate over the step's shapes: each shape's best time times its count."""
    results = {}
    paths = {"fp32_openblas": torch.float32, "bf16": torch.bfloat16}
    for name, dtype in paths.items():
        flops = seconds = 0.0
        for M, K, N, count in matmul_shapes(a):
            x = torch.randn(M, K).to(dtype)
            w = torch.randn(N, K).to(dtype)
            t = best_seconds(lambda: torch.matmul(x, w.t()), a.repeats)
            flops += 2.0 * M * K * N * count
            seconds += t * count
        results[name + "_gflops"] = flops / seconds / 1e9
    if torch.backends.mkldnn.is_available():  # oneDNN's fp32 inner product, when torch has it
        try:
            flops = seconds = 0.0
            for M, K, N, count in matmul_shapes(a):
                x = torch.randn(M, K).to_mkldnn()
                w = torch.randn(N, K).to_mkldnn()
                t = best_seconds(lambda: torch._C._nn.mkldnn_linear(x, w, None), a.repeats)
                flops += 2.0 * M * K * N * count
                seconds += t * count
            results["fp32_onednn_gflops"] = flops / seconds / 1e9
        except (RuntimeError, AttributeError) as error:
            results["fp32_onednn_error"] = str(error).splitlines()[0]
    print(json.dumps(results))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["step", "ceiling", "train"])
    p.add_argument("--style", choices=["llama", "gpt2"], default="llama")
    p.add_argument("--d-model", type=int, required=True)
    p.add_argument("--num-layers", type=int, required=True)
    p.add_argument("--num-heads", type=int, required=True)
    p.add_argument("--d-ff", type=int, required=True)
    p.add_argument("--vocab-size", type=int, required=True)
    p.add_argument("--batch-size", type=int, required=True)
    p.add_argument("--seq-len", type=int, required=True)
    p.add_argument("--warmup", type=int, default=2, help="untimed steps")
    p.add_argument("--steps", type=int, default=5, help="timed steps")
    p.add_argument("--warmup-steps", type=int, default=500, help="the learning-rate warm-up")
    p.add_argument("--learning-rate", type=float, default=5e-4)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--bf16", action="store_true", help="torch.autocast bf16 around the forward")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--train-ids", help="train: the training documents' ids, one document per line")
    p.add_argument("--val-ids", help="train: the validation documents' ids, one document per line")
    p.add_argument("--eos-id", type=int, help="train: the end-of-text id joining documents")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    {"step": train_steps, "ceiling": ceiling, "train": train_on_tokens}[a.mode](a)


if __name__ == "__main__":
    main()
