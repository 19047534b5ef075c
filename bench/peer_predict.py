#!/usr/bin/python3
"""The peer's prediction path for one real photo, timed in-process: what the original
API does per request (PIL decode, RGB, resize 512, [0,1], stretch, median, forward,
sigmoid > 0.5), plus resizing the mask to the photo's size so that the work matches
`wms predict`. Uses ../shared/bench's own code (peer_serve.preprocess, WaterMetersUNet).

Usage: peer_predict.py PEER_DIR IMAGES_DIR [--n 20] [--batch 8] [--threads 2] [--formats nchw,cl]
Prints RESULT lines like peer_unet.py.
"""
import argparse, glob, io, os, sys, time

import cv2
import numpy as np
import torch
from PIL import Image


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("peer_dir")
    ap.add_argument("images")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--formats", default="nchw")
    a = ap.parse_args()
    sys.path.insert(0, a.peer_dir)
    from peer_unet import WaterMetersUNet, emit
    from peer_serve import preprocess
    torch.set_num_threads(a.threads)
    files = sorted(glob.glob(os.path.join(a.images, "*")))[: a.n]
    blobs = [open(f, "rb").read() for f in files]
    for fmt in a.formats.split(","):
        model = WaterMetersUNet().eval()
        if fmt == "cl":
            model = model.to(memory_format=torch.channels_last)

        def one(data):
            pil = Image.open(io.BytesIO(data))
            x = preprocess(pil)
            if fmt == "cl":
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.no_grad():
                prob = torch.sigmoid(model(x))[0, 0]
            mask = (prob > 0.5).numpy().astype(np.uint8) * 255
            return cv2.resize(mask, pil.size, interpolation=cv2.INTER_NEAREST)

        for b in blobs[:2]:
            one(b)
        ts = []
        for r in range(2):
            for b in blobs:
                t0 = time.perf_counter()
                one(b)
                ts.append((time.perf_counter() - t0) * 1e3)
        emit("latency", f"512 b1 photo->mask {fmt}", a.threads, ts, items=1)

        pils = [Image.open(io.BytesIO(b)).convert("RGB") for b in blobs]
        for p in pils:
            p.load()

        def batch():
            xs = torch.cat([preprocess(pils[k % len(pils)]) for k in range(a.batch)])
            if fmt == "cl":
                xs = xs.contiguous(memory_format=torch.channels_last)
            with torch.no_grad():
                probs = torch.sigmoid(model(xs))[:, 0]
            for k in range(a.batch):
                m = (probs[k] > 0.5).numpy().astype(np.uint8) * 255
                cv2.resize(m, pils[k % len(pils)].size, interpolation=cv2.INTER_NEAREST)

        batch()
        ts = []
        for _ in range(4):
            t0 = time.perf_counter()
            batch()
            ts.append((time.perf_counter() - t0) * 1e3)
        emit("throughput", f"512 b{a.batch} decoded->mask {fmt}", a.threads, ts, items=a.batch)


if __name__ == "__main__":
    main()
