"""Formats bench/vs_pytorch's results.tsv as a Markdown table (one row per configuration and precision).

FLOPs/token = 6 x every matmul weight (LM head included) + 12 x layers x seq_len x d_model.
GFLOP/s shares are of the best matmul path measured on the step's own shapes, per precision: PyTorch's
paths (torch.matmul on OpenBLAS, oneDNN's fp32 inner product, bf16 torch.matmul) and utt's
(bench/matmul_paths: OpenBLAS, oneDNN, utt's own kernels, in fp32 and bf16).
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
          "| PyTorch GFLOP/s (% ceiling) | fp32 ceiling GFLOP/s (best path) | bf16 ceiling (best path) | utt peak RSS "
          "| PyTorch peak RSS | utt bf16 / utt fp32 |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for line in open(sys.argv[1]):
        (config, style, d, layers, d_ff, vocab, seq, utt_tps, utt_rss, torch_tps, torch_rss, bf16_tps, bf16_rss,
         batch, ceilings, utt_bf16_tps, utt_bf16_rss) = line.rstrip("\n").split("\t")
        ceil = json.loads(ceilings)
        fpt = flops_per_token(style, int(d), int(layers), int(d_ff), int(vocab), int(seq))
        # The best path measured for each precision, PyTorch's (torch.matmul, oneDNN's inner
        # product, bf16 torch.matmul; forward shapes) and utt's (bench/matmul_paths: OpenBLAS,
        # oneDNN, utt's kernels; forward and backward shapes).
        fp32_paths = {"torch OpenBLAS": ceil["fp32_openblas_gflops"],
                      "torch oneDNN": ceil.get("fp32_onednn_gflops") or 0.0}
        bf16_paths = {"torch": ceil["bf16_gflops"]}
        if "fp32_utt_gflops" in ceil:  # matmul_paths' keys (the torch fp32 keys are renamed first)
            fp32_paths.update({"oneDNN": ceil["fp32_onednn_gflops_utt"], "utt": ceil["fp32_utt_gflops"]})
            bf16_paths.update({"oneDNN": ceil["bf16_onednn_preconverted_gflops"], "utt": ceil["bf16_utt_gflops"]})
        fp32_best = max(fp32_paths, key=fp32_paths.get)
        bf16_best = max(bf16_paths, key=bf16_paths.get)
        fp32_ceiling, bf16_ceiling = fp32_paths[fp32_best], bf16_paths[bf16_best]
        ceiling_text = f"{fp32_ceiling:.0f} ({fp32_best})"
        bf16_text = f"{bf16_ceiling:.0f} ({bf16_best})"

        def rate(tps, ceiling):
            g = float(tps) * fpt / 1e9
            return f"{g:.1f} ({100 * g / ceiling:.0f}%)"

        name = f"{config} {batch}x{seq}"
        print(f"| {name} | {style} | fp32 | {float(utt_tps):,.0f} | {float(torch_tps):,.0f} "
              f"| {float(utt_tps) / float(torch_tps):.2f}x | {rate(utt_tps, fp32_ceiling)} "
              f"| {rate(torch_tps, fp32_ceiling)} | {ceiling_text} | {bf16_text} | {mib(utt_rss)} "
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
