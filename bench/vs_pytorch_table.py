"""Formats bench/vs_pytorch's results.tsv as a Markdown table (one row per configuration and precision).

FLOPs/token = 6 x every matmul weight (LM head included) + 12 x layers x seq_len x d_model.
GFLOP/s shares are of the best fp32 matmul path measured on the step's own shapes (the larger of
OpenBLAS via torch.matmul and oneDNN's fp32 inner product); bf16 rows also give the bf16 share.
"""
import json
import sys


def flops_per_token(style, d, layers, d_ff, vocab, seq):
    ffn = (3 if style == "llama" else 2) * d * d_ff
    matmul_weights = layers * (4 * d * d + ffn) + vocab * d
    return 6 * matmul_weights + 12 * layers * seq * d


def mib(kb):
    return f"{int(kb) / 1024:,.0f} MiB"


def main():
    print("| config | style | precision | utt tok/s | PyTorch tok/s | utt/PyTorch | utt GFLOP/s (% ceiling) "
          "| PyTorch GFLOP/s (% ceiling) | fp32 ceiling GFLOP/s (OpenBLAS / oneDNN) | bf16 ceiling | utt peak RSS "
          "| PyTorch peak RSS | utt bf16 / utt fp32 |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for line in open(sys.argv[1]):
        (config, style, d, layers, d_ff, vocab, seq, utt_tps, utt_rss, torch_tps, torch_rss, bf16_tps, bf16_rss,
         batch, ceilings, utt_bf16_tps, utt_bf16_rss) = line.rstrip("\n").split("\t")
        ceil = json.loads(ceilings)
        fpt = flops_per_token(style, int(d), int(layers), int(d_ff), int(vocab), int(seq))
        openblas = ceil["fp32_openblas_gflops"]
        onednn = ceil.get("fp32_onednn_gflops")
        fp32_ceiling = max(openblas, onednn or 0.0)
        bf16_ceiling = ceil["bf16_gflops"]
        ceiling_text = f"{openblas:.0f} / {onednn:.0f}" if onednn else f"{openblas:.0f} / n/a"

        def rate(tps, ceiling):
            g = float(tps) * fpt / 1e9
            return f"{g:.1f} ({100 * g / ceiling:.0f}%)"

        name = f"{config} {batch}x{seq}"
        print(f"| {name} | {style} | fp32 | {float(utt_tps):,.0f} | {float(torch_tps):,.0f} "
              f"| {float(utt_tps) / float(torch_tps):.2f}x | {rate(utt_tps, fp32_ceiling)} "
              f"| {rate(torch_tps, fp32_ceiling)} | {ceiling_text} | {bf16_ceiling:.0f} | {mib(utt_rss)} "
              f"| {mib(torch_rss)} | |")
        def bf16_rate(tps):
            g = float(tps) * fpt / 1e9
            return f"{g:.1f} ({100 * g / bf16_ceiling:.0f}% of bf16)"

        print(f"| {name} | {style} | bf16 | {float(utt_bf16_tps):,.0f} | {float(bf16_tps):,.0f} "
              f"| {float(utt_bf16_tps) / float(bf16_tps):.2f}x | {bf16_rate(utt_bf16_tps)} "
              f"| {bf16_rate(bf16_tps)} | | | {mib(utt_bf16_rss)} | {mib(bf16_rss)} "
              f"| {float(utt_bf16_tps) / float(utt_tps):.2f}x |")


if __name__ == "__main__":
    main()
