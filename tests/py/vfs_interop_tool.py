#!/usr/bin/env python3
"""Drives the Python sqlite-s3vfs (PyPI `sqlite-s3vfs`, on APSW + boto3) for
the VFS interop tests in tests/vfs_interop_test.ts.

usage: vfs_interop_tool.py ENDPOINT KEY_ID SECRET BUCKET PREFIX BLOCK_SIZE ACTION [PAGE_SIZE]

ACTION
  check     import the modules and print their versions (exit 3 when missing)
  write     create PREFIX with PAGE_SIZE (default 4096) and fill it: several
            tables, two indexes, blobs (some overflowing pages), in two
            transactions; prints {"ok": true}
  append    add rows to an existing database (tag 'py-append'); prints {"ok": true}
  read      run the SQL statements given on stdin (a JSON array of strings)
            and print {"results": [[row, ...], ...], "integrity": "...",
            "page_size", "page_count"}; rows are arrays; blobs are printed as
            upper-case hex strings
  readdump  read, plus "size" and "sha256" of dump
  dump      concatenate the block objects (sqlite-s3vfs's serialize_iter) and
            print {"size": n, "sha256": "..."}

Everything printed on stdout is one JSON document.
"""

import hashlib
import json
import random
import sys


def main():
    if len(sys.argv) < 8:
        print(__doc__, file=sys.stderr)
        return 2
    endpoint, key_id, secret, bucket_name, prefix, block_size, action = sys.argv[1:8]
    page_size = int(sys.argv[8]) if len(sys.argv) > 8 else 4096
    block_size = int(block_size)
    try:
        import apsw
        import boto3
        import sqlite_s3vfs
        from botocore.config import Config
    except ImportError as e:
        print(f"missing Python module: {e}; pip install sqlite-s3vfs apsw boto3", file=sys.stderr)
        return 3
    if action == "check":
        print(json.dumps({"apsw": apsw.apsw_version(), "sqlite": apsw.sqlitelibversion(),
                          "boto3": boto3.__version__}))
        return 0

    s3 = boto3.resource(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
    )
    bucket = s3.Bucket(bucket_name)
    vfs = sqlite_s3vfs.S3VFS(bucket=bucket, block_size=block_size)

    if action == "dump":
        print(json.dumps(dump(vfs, prefix)))
        return 0

    db = apsw.Connection(prefix, vfs=vfs.name)
    try:
        if action == "write":
            write(db, page_size)
            print(json.dumps({"ok": True}))
        elif action == "append":
            append(db)
            print(json.dumps({"ok": True}))
        elif action in ("read", "readdump"):
            queries = json.load(sys.stdin)
            out = read(db, queries)
            if action == "readdump":
                out.update(dump(vfs, prefix))
            print(json.dumps(out))
        else:
            print(f"unknown action {action}", file=sys.stderr)
            return 2
    finally:
        db.close()
    return 0


def write(db, page_size):
    rnd = random.Random(page_size)
    cur = db.cursor()
    cur.execute(f"PRAGMA page_size = {page_size}")
    cur.execute("PRAGMA journal_mode = DELETE")
    countries = ["NO", "SE", "DK", "FI", "IS", "DE", "FR"]
    # One transaction for the bulk (the reference implementation does a GET + PUT
    # per partial block write, so every extra transaction costs seconds).
    with db:
        cur.execute("""
            CREATE TABLE artist (id INTEGER PRIMARY KEY, name TEXT NOT NULL, country TEXT);
            CREATE TABLE album (id INTEGER PRIMARY KEY, artist_id INTEGER REFERENCES artist(id),
                                title TEXT, year INTEGER, rating REAL);
            CREATE TABLE cover (album_id INTEGER PRIMARY KEY, image BLOB);
            CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT, tag TEXT);
            CREATE INDEX album_by_artist ON album(artist_id, year);
            CREATE UNIQUE INDEX artist_by_name ON artist(name);
        """)
        for i in range(1, 121):
            cur.execute("INSERT INTO artist VALUES (?, ?, ?)",
                        (i, f"artist {i:03d} {'x' * (i % 17)}", countries[i % len(countries)]))
        for i in range(1, 301):
            cur.execute("INSERT INTO album VALUES (?, ?, ?, ?, ?)",
                        (i, 1 + (i * 7) % 120, f"album {i} \u00e6\u00f8\u00e5 \U0001F3B5",
                         1960 + i % 60, round((i % 50) / 10 + 0.25, 2)))
        for i in range(1, 25):
            size = [10, 300, 3000, 9000, 20000][i % 5]
            cur.execute("INSERT INTO cover VALUES (?, ?)", (i * 3, rnd.randbytes(size)))
        for i in range(1, 101):
            cur.execute("INSERT INTO note (body, tag) VALUES (?, ?)",
                        ("lorem ipsum " * (i % 40), "py"))
    with db:  # a second transaction: journals pages of the existing file
        cur.execute("DELETE FROM note WHERE id % 5 = 0")
        cur.execute("UPDATE album SET rating = rating + 1 WHERE id % 9 = 0")


def append(db):
    cur = db.cursor()
    with db:
        for i in range(25):
            cur.execute("INSERT INTO note (body, tag) VALUES (?, 'py-append')", (f"appended {i} " * 30,))
        cur.execute("INSERT INTO cover VALUES (?, ?)", (100001, bytes(range(256)) * 40))


def dump(vfs, prefix):
    h = hashlib.sha256()
    size = 0
    for chunk in vfs.serialize_iter(key_prefix=prefix):
        h.update(chunk)
        size += len(chunk)
    return {"size": size, "sha256": h.hexdigest()}


def convert(v):
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v).hex().upper()
    return v


def read(db, queries):
    cur = db.cursor()
    results = []
    for q in queries:
        results.append([[convert(v) for v in row] for row in cur.execute(q)])
    integrity = [r[0] for r in cur.execute("PRAGMA integrity_check")]
    page_size = list(cur.execute("PRAGMA page_size"))[0][0]
    page_count = list(cur.execute("PRAGMA page_count"))[0][0]
    return {
        "results": results,
        "integrity": "\n".join(integrity),
        "page_size": page_size,
        "page_count": page_count,
    }


if __name__ == "__main__":
    sys.exit(main())
