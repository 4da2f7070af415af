"""Drives the Python sqlite-s3vfs for the interop tests (tests/streams_interop_test.ts).

usage:
  s3vfs_tool.py check
  s3vfs_tool.py deserialize BUCKET PREFIX BLOCK_SIZE FILE     # S3VFS.deserialize_iter from FILE
  s3vfs_tool.py serialize   BUCKET PREFIX BLOCK_SIZE FILE     # S3VFS.serialize_iter into FILE
  s3vfs_tool.py integrity   BUCKET PREFIX BLOCK_SIZE          # PRAGMA integrity_check through the VFS

The endpoint and credentials come from the environment set by `deno task test`:
S3VFS_TEST_ENDPOINT (or AWS_ENDPOINT_URL_S3), AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION.
"""

import os
import sys

try:
    import apsw
    import boto3
    from botocore.config import Config
    import sqlite_s3vfs
except ImportError as e:  # reported by the test as a failure with the install hint
    print(f"IMPORT-ERROR: {e}: pip install sqlite-s3vfs apsw boto3", file=sys.stderr)
    sys.exit(3)


def bucket(name):
    endpoint = os.environ.get("S3VFS_TEST_ENDPOINT") or os.environ["AWS_ENDPOINT_URL_S3"]
    s3 = boto3.resource(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
        config=Config(s3={"addressing_style": "path"}),
    )
    return s3.Bucket(name)


def file_chunks(path, size=65536):
    with open(path, "rb") as f:
        while True:
            chunk = f.read(size)
            if not chunk:
                return
            yield chunk


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "check":
        print("ok", sqlite_s3vfs.__file__, apsw.sqlite_lib_version())
        return 0
    if cmd in ("deserialize", "serialize") and len(argv) == 6:
        _, _, name, prefix, block_size, path = argv
        vfs = sqlite_s3vfs.S3VFS(bucket=bucket(name), block_size=int(block_size))
        if cmd == "deserialize":
            vfs.deserialize_iter(key_prefix=prefix, bytes_iter=file_chunks(path))
        else:
            with open(path, "wb") as f:
                for chunk in vfs.serialize_iter(key_prefix=prefix):
                    f.write(chunk)
        print("ok")
        return 0
    if cmd == "integrity" and len(argv) == 5:
        _, _, name, prefix, block_size = argv
        vfs = sqlite_s3vfs.S3VFS(bucket=bucket(name), block_size=int(block_size))
        with apsw.Connection(prefix, vfs=vfs.name) as db:
            rows = db.execute("PRAGMA integrity_check").fetchall()
            count = db.execute("SELECT count(*) FROM sqlite_master").fetchall()[0][0]
        print(rows[0][0], count)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
