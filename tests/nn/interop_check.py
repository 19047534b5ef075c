#!/usr/bin/python3
"""PyTorch interop, both directions, with Debian's python3-torch (same 1.13 as LibTorch).

1. PyTorch -> wms: a WaterMetersUNet (the original class, below) with random weights
   and random BatchNorm statistics is saved with torch.save(state_dict); `wms model
   import` reads it; `wms predict --probabilities` on a photo gives the same
   probabilities as PyTorch running the original's preprocessing and model.
2. wms -> PyTorch: `wms model export` writes a .pth that load_state_dict(strict=True)
   accepts, with tensors equal to the imported ones.
Usage: interop_check.py WMS_BINARY
"""
import json
import os
import subprocess
import sys
import tempfile

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class WaterMetersUNet(nn.Module):  # the original's module names and forward
    def __init__(self, inChannels=3, baseFilters=16, outChannels=1):
        super().__init__()
        b = baseFilters
        self.enc1, self.pool1 = block(inChannels, b), nn.MaxPool2d(2, 2)
        self.enc2, self.pool2 = block(b, 2 * b), nn.MaxPool2d(2, 2)
        self.enc3, self.pool3 = block(2 * b, 4 * b), nn.MaxPool2d(2, 2)
        self.enc4, self.pool4 = block(4 * b, 8 * b), nn.MaxPool2d(2, 2)
        self.bottleneck = block(8 * b, 16 * b)
        self.dec4, self.dec3 = block(24 * b, 8 * b), block(12 * b, 4 * b)
        self.dec2, self.dec1 = block(6 * b, 2 * b), block(3 * b, b)
        self.final = nn.Conv2d(b, outChannels, kernel_size=1)

    def forward(self, x):
        e1 = self.enc1(x); e2 = self.enc2(self.pool1(e1)); e3 = self.enc3(self.pool2(e2))
        e4 = self.enc4(self.pool3(e3)); b = self.bottleneck(self.pool4(e4))
        up = lambda t, s: torch.cat((F.interpolate(t, size=s.shape[2:], mode='bilinear', align_corners=False), s), 1)
        d4 = self.dec4(up(b, e4)); d3 = self.dec3(up(d4, e3)); d2 = self.dec2(up(d3, e2)); d1 = self.dec1(up(d2, e1))
        return self.final(d1)


def original_preprocess(rgb_u8):  # valTransforms after the resize (the photo is already S x S)
    f = rgb_u8.astype(np.float32) / 255.0
    p2, p98 = np.percentile(f, (2, 98))
    f = np.clip((f - p2) / (p98 - p2 + 1e-6), 0.0, 1.0)
    f = cv2.medianBlur((f * 255).astype(np.uint8), 3).astype(np.float32) / 255.0
    return torch.from_numpy(f).permute(2, 0, 1)


def main():
    wms = sys.argv[1]
    env = dict(os.environ, WMS_PROGRESS="0")
    run = lambda *a: subprocess.run([wms, *a], check=True, env=env, capture_output=True, text=True)
    size = 64
    torch.manual_seed(0)
    model = WaterMetersUNet()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.num_batches_tracked.fill_(1234)
    model.eval()
    with tempfile.TemporaryDirectory() as t:
        torch.save(model.state_dict(), os.path.join(t, "production.pth"))
        run("model", "import", os.path.join(t, "production.pth"), "--out", os.path.join(t, "m.wms"),
            "--input-size", str(size))
        rng = np.random.default_rng(1)
        rgb = (rng.normal(120, 50, (size, size, 3))).clip(0, 255).astype(np.uint8)
        cv2.imwrite(os.path.join(t, "photo.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        run("predict", "--model", os.path.join(t, "m.wms"), os.path.join(t, "photo.png"), "--out",
            os.path.join(t, "pred"), "--probabilities", "--precision", "fp32")
        got = np.load(os.path.join(t, "pred", "photo.prob.npy"))
        with torch.no_grad():
            want = torch.sigmoid(model(original_preprocess(rgb)[None]))[0, 0].numpy()
        diff = float(np.abs(got - want).max())
        assert got.shape == (size, size), got.shape
        assert diff < 1e-4, f"wms and PyTorch probabilities differ by {diff}"
        print(f"PyTorch -> wms: probabilities agree within {diff:.2e}")

        run("model", "export", os.path.join(t, "m.wms"), "--out", os.path.join(t, "back.pth"))
        sd = torch.load(os.path.join(t, "back.pth"))
        fresh = WaterMetersUNet()
        fresh.load_state_dict(sd, strict=True)
        for k, v in model.state_dict().items():
            assert torch.equal(v, sd[k]), f"{k} changed in the round trip"
        assert list(sd.keys()) == list(model.state_dict().keys()), "key order differs"
        print("wms -> PyTorch: load_state_dict(strict=True) accepts the export; all 128 tensors equal")


if __name__ == "__main__":
    main()
