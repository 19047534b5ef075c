#!/usr/bin/python3
"""The checkpoint files people have, written by real PyTorch (Debian's python3-torch),
against `wms model import`: every way PyTorch's tutorial "Saving and Loading Models"
documents either imports to the same weights, or exits 3 (invalid input) with a message
that says what the file holds and how to re-save it.
Usage: checkpoint_formats_check.py WMS_BINARY
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop_check import WaterMetersUNet  # noqa: E402  the original's class


def main():
    wms = sys.argv[1]
    env = dict(os.environ, WMS_PROGRESS="0")
    failures = []

    def wms_import(path):
        out = os.path.join(os.path.dirname(path), os.path.basename(path) + ".wms")
        r = subprocess.run([wms, "model", "import", path, "--out", out], env=env, capture_output=True, text=True)
        return r.returncode, r.stdout + r.stderr, out

    def weights(bundle, t):
        pth = os.path.join(t, "back.pth")
        subprocess.run([wms, "model", "export", bundle, "--out", pth], env=env, check=True, capture_output=True)
        return torch.load(pth)

    def expect_import(name, path, note, reference):
        code, text, out = wms_import(path)
        if code != 0:
            failures.append(f"{name}: exit {code}, expected 0: {text}")
            return
        if note and note not in text:
            failures.append(f"{name}: the output does not say '{note}': {text}")
        got = weights(out, os.path.dirname(path))
        for k, v in reference.items():
            if not torch.equal(got[k], v):
                failures.append(f"{name}: tensor {k} differs after import")
                return

    def expect_refusal(name, path, *words):
        code, text, _ = wms_import(path)
        if code != 3:
            failures.append(f"{name}: exit {code}, expected 3 (invalid input): {text}")
        for w in words:
            if w not in text:
                failures.append(f"{name}: the message does not say '{w}': {text}")

    torch.manual_seed(0)
    model = WaterMetersUNet()
    for m in model.modules():  # non-trivial BatchNorm statistics
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    sd = model.state_dict()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.rand(1, 3, 64, 64)).mean().backward()
    opt.step()
    sd = {k: v.clone() for k, v in model.state_dict().items()}

    with tempfile.TemporaryDirectory() as t:
        p = lambda n: os.path.join(t, n)
        torch.save(model.state_dict(), p("state_dict.pth"))
        expect_import("torch.save(model.state_dict())", p("state_dict.pth"), None, sd)

        torch.save(nn.DataParallel(model).state_dict(), p("data_parallel.pth"))
        expect_import("nn.DataParallel state_dict", p("data_parallel.pth"), "stripped the 'module.' prefix", sd)

        torch.save({"epoch": 7, "model_state_dict": model.state_dict(), "optimizer_state_dict": opt.state_dict(),
                    "loss": torch.tensor(0.25)}, p("checkpoint.pth"))
        expect_import("general checkpoint", p("checkpoint.pth"), "took 'model_state_dict'", sd)

        torch.save({"state_dict": nn.DataParallel(model).state_dict(), "best_dice": np.float64(0.93),
                    "config": {"lr": 1e-3, "sizes": [256, 512], "name": "unet"}}, p("other_checkpoint.pth"))
        expect_import("checkpoint with numpy values and a DataParallel state_dict", p("other_checkpoint.pth"),
                      "took 'state_dict'", sd)

        torch.save(model, p("whole_model.pth"))
        expect_refusal("torch.save(model)", p("whole_model.pth"), "pickled object", "WaterMetersUNet",
                       "torch.save(model.state_dict()")

        torch.save({"epoch": 3, "model": model}, p("checkpoint_with_model.pth"))
        expect_refusal("checkpoint holding the module", p("checkpoint_with_model.pth"), "'model' holds a pickled object")

        torch.jit.save(torch.jit.trace(model.eval(), torch.rand(1, 3, 64, 64)), p("scripted.pt"))
        expect_refusal("torch.jit.save", p("scripted.pt"), "TorchScript", "state_dict()")

        torch.save(model.state_dict(), p("legacy.pth"), _use_new_zipfile_serialization=False)
        expect_refusal("legacy format", p("legacy.pth"), "legacy torch.save file", "torch.save(torch.load(")

        torch.save(nn.Linear(4, 2).state_dict(), p("other_model.pth"))
        expect_refusal("another architecture", p("other_model.pth"), "is missing", "the file has 2 keys: weight, bias")

        torch.save({"epoch": 1, "lr": 0.1}, p("no_weights.pth"))
        expect_refusal("a dict without weights", p("no_weights.pth"), "keys 'epoch', 'lr'")

        with open(p("photo.pth"), "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n" + bytes(100))
        expect_refusal("not a torch.save file", p("photo.pth"), "not a torch.save file", "found a PNG image")

    if failures:
        print("\n".join(failures))
        sys.exit(1)
    print("every documented checkpoint format imports or is refused with exit 3 and a message")


if __name__ == "__main__":
    main()
