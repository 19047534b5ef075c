#!/usr/bin/python3
"""An independent S3 client (Debian's python3-boto3) on a DVC remote that wms uses.

  remote_boto3_check.py read BUCKET PREFIX DATA_DIR
      checks what `wms remote push` wrote: DATA_DIR/images.dvc and masks.dvc name .dir
      objects at DVC 3.x's paths (PREFIX/files/md5/<2>/<30>.dir) whose bytes are
      json.dumps(entries, sort_keys=True) and hash to their names; every file they list
      is at its path, hashes to its name and equals DATA_DIR/<dir>/<relpath>.
  remote_boto3_check.py write BUCKET PREFIX CLONE_DIR LAYOUT
      writes a two-photo dataset the way `dvc push` lays it out (LAYOUT 3: files/md5/,
      LAYOUT 2: DVC 2.x's <2>/<30>) and the .dvc files a `git clone` of the project
      would hold (2.x ones without `hash: md5`) into CLONE_DIR/data/.

Credentials and the server come from S3_ENDPOINT and the AWS_* variables.
"""
import hashlib
import json
import os
import sys

import boto3
from botocore.config import Config


def s3():
    return boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"],
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))


def key(prefix, md5, legacy=False):
    return f"{prefix}/{'' if legacy else 'files/md5/'}{md5[:2]}/{md5[2:]}"


def dvc_out(path):
    fields = {}
    for line in open(path):
        line = line.strip().lstrip("- ")
        if ":" in line:
            k, v = line.split(":", 1)
            fields[k.strip()] = v.strip()
    return fields


def read(bucket, prefix, data_dir):
    c = s3()
    for side in ("images", "masks"):
        out = dvc_out(os.path.join(data_dir, side + ".dvc"))
        assert out.get("hash") == "md5", f"{side}.dvc: DVC 3.x files say hash: md5 ({out})"
        dir_md5 = out["md5"]
        body = c.get_object(Bucket=bucket, Key=key(prefix, dir_md5))["Body"].read()
        assert hashlib.md5(body).hexdigest() + ".dir" == dir_md5, f"{dir_md5}: bytes hash elsewhere"
        entries = json.loads(body)
        assert body.decode() == json.dumps(entries, sort_keys=True), f"{dir_md5}: not DVC's json.dumps bytes"
        assert [e["relpath"] for e in entries] == sorted(e["relpath"] for e in entries)
        assert len(entries) == int(out["nfiles"]), f"{side}.dvc nfiles"
        for e in entries:
            got = c.get_object(Bucket=bucket, Key=key(prefix, e["md5"]))["Body"].read()
            assert hashlib.md5(got).hexdigest() == e["md5"], f"{e['relpath']}: bytes hash elsewhere"
            with open(os.path.join(data_dir, side, e["relpath"]), "rb") as f:
                assert f.read() == got, f"{side}/{e['relpath']}: differs from the checked-out file"
    # Every object under files/md5/ is named by the md5 of its bytes.
    pages = c.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/files/md5/")
    n = 0
    for page in pages:
        for o in page.get("Contents", []):
            name = o["Key"][len(prefix + "/files/md5/"):].replace("/", "")
            body = c.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
            assert hashlib.md5(body).hexdigest() == name.removesuffix(".dir"), o["Key"]
            n += 1
    print(f"read back {n} objects at DVC 3.x paths")


def write(bucket, prefix, clone, layout):
    c = s3()
    legacy = layout == "2"
    os.makedirs(os.path.join(clone, "data"), exist_ok=True)
    for side, files in (("images", {"a.jpg": b"image a", "b.jpg": b"image b"}),
                        ("masks", {"a.jpg": b"mask of a", "b.jpg": b"mask of b"})):
        entries = []
        for rel, data in sorted(files.items()):
            md5 = hashlib.md5(data).hexdigest()
            c.put_object(Bucket=bucket, Key=key(prefix, md5, legacy), Body=data)
            entries.append({"md5": md5, "relpath": rel})
        listing = json.dumps(entries, sort_keys=True).encode()
        dir_md5 = hashlib.md5(listing).hexdigest() + ".dir"
        c.put_object(Bucket=bucket, Key=key(prefix, dir_md5, legacy), Body=listing)
        size = sum(len(d) for d in files.values())
        hash_line = "" if legacy else "  hash: md5\n"
        with open(os.path.join(clone, "data", side + ".dvc"), "w") as f:
            f.write(f"outs:\n- md5: {dir_md5}\n  size: {size}\n  nfiles: {len(files)}\n{hash_line}  path: {side}\n")
    print(f"wrote a DVC {layout}.x remote at s3://{bucket}/{prefix}")


if __name__ == "__main__":
    if sys.argv[1] == "read":
        read(*sys.argv[2:5])
    else:
        write(*sys.argv[2:6])
