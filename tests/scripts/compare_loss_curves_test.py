"""scripts/compare_loss_curves.py: which pairs of runs it passes, which it fails, and its refusals."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "compare_loss_curves.py")


def write_run(directory, name, rows):
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    return path


def curve(losses, val=None):
    rows = [{"step": 10 * (i + 1), "loss": loss, "lr": 1e-3, "tokens_per_sec": 1000.0}
            for i, loss in enumerate(losses)]
    if val is not None:
        rows.append({"step": 10 * len(losses), "val_loss": val, "val_perplexity": 2.0})
    return rows


def compare(a, b, *extra):
    return subprocess.run([sys.executable, SCRIPT, a, b, *extra], capture_output=True, text=True)


class CompareLossCurves(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()

    def test_curves_within_tolerance_match(self):
        b = write_run(self.dir, "b", curve([8.0, 6.0, 5.0, 4.5, 4.4, 4.3], val=4.6))
        a = write_run(self.dir, "a", curve([8.01, 6.03, 5.02, 4.49, 4.41, 4.31], val=4.62))
        r = compare(a, b)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("MATCH", r.stdout.splitlines()[-1])

    def test_one_step_beyond_the_tolerance_fails(self):
        b = write_run(self.dir, "b", curve([8.0, 6.0, 5.0, 4.5, 4.4, 4.3]))
        a = write_run(self.dir, "a", curve([8.0, 6.5, 5.0, 4.5, 4.4, 4.3]))
        r = compare(a, b)
        self.assertEqual(r.returncode, 1)
        self.assertIn("MISMATCH", r.stdout)
        self.assertEqual(compare(a, b, "--tolerance", "0.1", "--final-window", "3").returncode, 0)

    def test_a_final_drift_fails_even_within_the_per_step_tolerance(self):
        b = write_run(self.dir, "b", curve([8.0, 6.0, 5.0, 4.5, 4.4, 4.3]))
        a = write_run(self.dir, "a", curve([8.0, 6.0, 5.0, 4.6, 4.5, 4.4]))  # +1.5..2.3% at the end
        self.assertEqual(compare(a, b, "--tolerance", "0.03").returncode, 1)

    def test_different_steps_and_unreadable_input_are_refused(self):
        b = write_run(self.dir, "b", curve([8.0, 6.0]))
        a = write_run(self.dir, "a", curve([8.0]))
        self.assertEqual(compare(a, b).returncode, 1)
        self.assertEqual(compare(os.path.join(self.dir, "missing"), b).returncode, 2)
        broken = os.path.join(self.dir, "broken")
        with open(broken, "w") as f:
            f.write("{not json\n")
        r = compare(broken, b)
        self.assertEqual(r.returncode, 2)
        self.assertIn("broken:1 is not JSON", r.stderr)


if __name__ == "__main__":
    unittest.main()
