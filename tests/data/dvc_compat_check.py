#!/usr/bin/python3
"""DVC 3.x byte-compatibility, checked by an independent implementation.

Builds a workspace with the wms binary, then recomputes everything DVC would write
with Python's own hashlib and json (as dvc-data does): file md5s of raw bytes, the
.dir object as json.dumps(entries, sort_keys=True) sorted by relpath parts, its md5,
the cache layout files/md5/<2>/<30>, and the .dvc pointer file text.
Usage: dvc_compat_check.py WMS_BINARY
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile


def md5(b):
    return hashlib.md5(b).hexdigest()


def main():
    wms = sys.argv[1]
    env = dict(os.environ, WMS_PROGRESS="0")
    with tempfile.TemporaryDirectory() as t:
        ws = os.path.join(t, "ws")
        run = lambda *a: subprocess.run([wms, *a], check=True, env=env, capture_output=True)
        run("init", ws)
        b = os.path.join(t, "b")
        run("synth", "--out", b, "--count", "7", "--size", "96")
        # A nested tree, as `dvc add` lists it: relpaths with '/', sorted by parts, so that
        # "day/x.jpg" comes before "day-2.jpg" (a plain string sort puts it after).
        names = sorted(os.listdir(os.path.join(b, "images")))
        for side in ("images", "masks"):
            os.makedirs(os.path.join(b, side, "day", "cam 1"))
            os.rename(os.path.join(b, side, names[0]), os.path.join(b, side, "day", names[0]))
            os.rename(os.path.join(b, side, names[1]), os.path.join(b, side, "day", "cam 1", names[1]))
            os.rename(os.path.join(b, side, names[2]), os.path.join(b, side, "day-2.jpg"))
        run("data", "add", "-w", ws, b)
        cache = os.path.join(ws, ".wms", "cache", "files", "md5")
        for side in ("images", "masks"):
            folder = os.path.join(ws, "data", side)
            entries = []
            size = 0
            files = [os.path.relpath(os.path.join(d, f), folder).replace(os.sep, "/")
                     for d, _, fs in os.walk(folder) for f in fs]
            assert len(files) == 7 and "day/cam 1/" + names[1] in files, files
            for name in files:
                data = open(os.path.join(folder, name), "rb").read()
                size += len(data)
                h = md5(data)
                obj = os.path.join(cache, h[:2], h[2:])
                assert open(obj, "rb").read() == data, f"object {obj} differs from {name}"
                entries.append({"md5": h, "relpath": name})
            entries.sort(key=lambda e: tuple(e["relpath"].split("/")))
            listing = json.dumps(entries, sort_keys=True)
            dir_md5 = md5(listing.encode())
            dir_obj = os.path.join(cache, dir_md5[:2], dir_md5[2:] + ".dir")
            got = open(dir_obj, encoding="utf-8").read()
            assert got == listing, f"{dir_obj}: .dir bytes differ from json.dumps"
            expected_dvc = (f"outs:\n- md5: {dir_md5}.dir\n  size: {size}\n  nfiles: {len(entries)}\n"
                            f"  hash: md5\n  path: {side}\n")
            got_dvc = open(os.path.join(ws, "data", side + ".dvc")).read()
            assert got_dvc == expected_dvc, f"{side}.dvc:\n{got_dvc}\nexpected:\n{expected_dvc}"
    print("DVC 3.x layout, .dir bytes and .dvc files match the independent computation")


if __name__ == "__main__":
    main()
