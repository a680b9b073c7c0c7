"""bench/gpu_vs_pytorch --smoke: the benchmark's own logic (runs, measurement, table) on the CPU,
with a tiny configuration, so that the GPU benchmark is exercised in every build.

  gpu_vs_pytorch_smoke_test.py UTT_BINARY
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BENCH = os.path.join(ROOT, "bench", "gpu_vs_pytorch")
UTT = None  # set from argv


class GpuVsPytorchSmoke(unittest.TestCase):
    def test_every_side_runs_and_the_table_has_its_numbers(self):
        with tempfile.TemporaryDirectory() as work:
            corpus = os.path.join(work, "corpus")
            os.makedirs(corpus)
            text = os.path.join(corpus, "train.txt")
            with open(text, "w") as out:
                for name in ("README.md", "docs/architecture.md"):
                    with open(os.path.join(ROOT, name)) as f:
                        out.write(f.read())
            results = os.path.join(work, "results")
            run = subprocess.run([sys.executable, BENCH, "--smoke", "--utt", UTT, "--out", results, "--steps", "2",
                                  "--warmup", "1", "--dataset", corpus, "--tokenizer-input", text, "--timeout", "240"],
                                 capture_output=True, text=True, cwd=ROOT, timeout=600)
            self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
            with open(os.path.join(results, "results.json")) as f:
                measured = json.load(f)
            runs = measured["rows"][0]["runs"]
            self.assertGreater(runs["utt"]["tokens_per_s"], 0)
            self.assertGreater(runs["utt"]["peak_bytes"], 0)
            self.assertGreater(runs["torch eager"]["tokens_per_s"], 0)
            # torch.compile: measured, or said to be unavailable in this torch.
            compiled = runs["torch.compile"]
            self.assertTrue("tokens_per_s" in compiled or "unavailable" in compiled, compiled)
            with open(os.path.join(results, "results.md")) as f:
                table = f.read()
            self.assertIn("| smoke | utt |", table)
            self.assertIn("| smoke | torch eager |", table)
            if "unavailable" in compiled:  # nothing to compare with: no ratios
                self.assertIn("| n/a | n/a |", table)

    def test_a_missing_utt_binary_is_refused_by_name(self):
        run = subprocess.run([sys.executable, BENCH, "--smoke", "--utt", "/nonexistent/utt"], capture_output=True,
                             text=True, cwd=ROOT)
        self.assertEqual(run.returncode, 2)
        self.assertIn("no utt binary at /nonexistent/utt", run.stderr)


if __name__ == "__main__":
    UTT = os.path.abspath(sys.argv.pop(1))
    unittest.main()
