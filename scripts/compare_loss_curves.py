#!/usr/bin/env python3
"""Compares the loss curves of two utt runs of one configuration (their metrics.jsonl), e.g. the
same seed on the GPU and on the CPU, where only the summation order differs.

  scripts/compare_loss_curves.py RUN_A/metrics.jsonl RUN_B/metrics.jsonl [--tolerance 0.02]
                                 [--final-tolerance 0.01] [--final-window 5]

Passes (exit 0) when both logged the same steps and
- every logged training loss agrees within --tolerance relative to B's loss (default 2%): rounding
  differences grow through training, but stay far below what a wrong kernel makes (a wrong
  gradient leaves the loss near ln(vocab), a wrong forward shifts it from the first step);
- the mean of the last --final-window logged losses agrees within --final-tolerance (default 1%);
- validation losses, where both have them, agree within --tolerance.
Prints one line per logged step and a verdict; exit 1 on a mismatch, 2 on unusable input.
"""
import argparse
import json
import sys


def read_curves(path):
    train, validation = {}, {}
    try:
        with open(path) as f:
            for number, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as error:
                    raise SystemExit(f"compare_loss_curves: {path}:{number} is not JSON ({error})")
                if "loss" in row:
                    train[row["step"]] = float(row["loss"])
                if "val_loss" in row:
                    validation[row["step"]] = float(row["val_loss"])
    except OSError as error:
        raise SystemExit(f"compare_loss_curves: cannot read {path}: {error.strerror}")
    return train, validation


def relative(a, b):
    return abs(a - b) / max(abs(b), 1e-12)


def main(argv):
    p = argparse.ArgumentParser(description="Compare the loss curves of two utt runs.")
    p.add_argument("a", help="metrics.jsonl of the run under test (e.g. the GPU run)")
    p.add_argument("b", help="metrics.jsonl of the reference run (e.g. the CPU run)")
    p.add_argument("--tolerance", type=float, default=0.02)
    p.add_argument("--final-tolerance", type=float, default=0.01)
    p.add_argument("--final-window", type=int, default=5)
    args = p.parse_args(argv)
    try:
        train_a, val_a = read_curves(args.a)
        train_b, val_b = read_curves(args.b)
    except SystemExit as error:
        print(error, file=sys.stderr)
        return 2
    if not train_b:
        print(f"compare_loss_curves: {args.b} has no training losses", file=sys.stderr)
        return 2
    if sorted(train_a) != sorted(train_b):
        print(f"compare_loss_curves: the runs logged different steps ({len(train_a)} and {len(train_b)} rows)",
              file=sys.stderr)
        return 1
    failures = 0
    worst = 0.0
    print(f"{'step':>6} {'A':>10} {'B':>10} {'rel diff':>9}")
    for step in sorted(train_b):
        d = relative(train_a[step], train_b[step])
        worst = max(worst, d)
        bad = d > args.tolerance
        failures += bad
        print(f"{step:>6} {train_a[step]:>10.4f} {train_b[step]:>10.4f} {d:>9.2e}{'  <- beyond ' + str(args.tolerance) if bad else ''}")
    steps = sorted(train_b)[-args.final_window:]
    final_a = sum(train_a[s] for s in steps) / len(steps)
    final_b = sum(train_b[s] for s in steps) / len(steps)
    final = relative(final_a, final_b)
    if final > args.final_tolerance:
        failures += 1
    print(f"final {len(steps)} logged losses: A {final_a:.4f}, B {final_b:.4f}, rel diff {final:.2e} "
          f"(tolerance {args.final_tolerance})")
    for step in sorted(set(val_a) & set(val_b)):
        d = relative(val_a[step], val_b[step])
        bad = d > args.tolerance
        failures += bad
        print(f"validation at step {step}: A {val_a[step]:.4f}, B {val_b[step]:.4f}, rel diff {d:.2e}"
              f"{'  <- beyond ' + str(args.tolerance) if bad else ''}")
    verdict = "MATCH" if failures == 0 else f"MISMATCH ({failures} beyond tolerance)"
    print(f"{verdict}: largest per-step relative difference {worst:.2e} (tolerance {args.tolerance})")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
