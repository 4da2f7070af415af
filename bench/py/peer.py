"""The Python peer of the benchmark: sqlite-s3vfs (on APSW) with boto3.

Runs the same workloads as bench/sql_workloads.ts and bench/transfer.ts and
prints one JSON object on stdout. Requests are counted with a boto3 event hook
(`before-send.s3.*`, so every attempt that goes on the wire counts once).

Input: a JSON config as the only argument (see bench/peer.ts for the fields).
"""

import json
import sys
import time

import apsw
import boto3
import botocore.config
import sqlite_s3vfs

KIND = {
    "GetObject": "get",
    "PutObject": "put",
    "ListObjects": "list",
    "ListObjectsV2": "list",
    "DeleteObject": "delete",
    "DeleteObjects": "deleteMany",
    "HeadObject": "head",
}

counts = {}


def on_send(event_name=None, **_kwargs):
    op = event_name.rsplit(".", 1)[-1]
    kind = KIND.get(op, "other")
    counts[kind] = counts.get(kind, 0) + 1


def snapshot():
    c = {k: counts.get(k, 0) for k in ("get", "put", "list", "delete", "deleteMany", "head", "other")}
    c["total"] = sum(c.values())
    return c


def log(msg):
    print(f"  [python] {msg}", file=sys.stderr, flush=True)


def lookup_ids(n, rows):
    """The same pseudo-random ids as bench/sql_workloads.ts lookupIds()."""
    return [((i + 1) * 2654435761 % 4294967296) % rows + 1 for i in range(n)]


class Peer:
    def __init__(self, cfg):
        self.cfg = cfg
        session = boto3.session.Session(
            aws_access_key_id=cfg["accessKeyId"],
            aws_secret_access_key=cfg["secretAccessKey"],
            region_name=cfg["region"],
        )
        self.s3 = session.resource(
            "s3",
            endpoint_url=cfg["endpoint"],
            config=botocore.config.Config(s3={"addressing_style": "path"}),
        )
        self.s3.meta.client.meta.events.register("before-send.s3.*", on_send)
        self.bucket = self.s3.Bucket(cfg["bucket"])
        self.results = []

    def vfs(self):
        return sqlite_s3vfs.S3VFS(bucket=self.bucket, block_size=self.cfg["blockSize"])

    def measure(self, name, ops, fn, **extra):
        counts.clear()
        t = time.perf_counter()
        out = fn()
        ms = (time.perf_counter() - t) * 1000
        r = {"name": name, "ms": ms, "ops": ops, "requests": snapshot(), **extra}
        if isinstance(out, dict):
            r.update(out)
        self.results.append(r)
        log(f"{name}: {ms:.0f} ms, {r['requests']['total']} requests")
        return r

    def sql(self):
        cfg = self.cfg
        prefix = cfg["prefix"] + "/bench.db"
        rows, commits, lookups = cfg["rows"], cfg["commits"], cfg["lookups"]
        vfs = self.vfs()
        db = apsw.Connection(prefix, vfs=vfs.name)
        db.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, payload TEXT); CREATE INDEX t_k ON t(k)")

        def bulk():
            db.execute(
                "BEGIN; WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) "
                "INSERT INTO t SELECT x, (x * 7919) % ?, substr(hex(randomblob(50)), 1, 100) FROM c; COMMIT",
                (rows, rows),
            )

        self.measure("bulk", rows, bulk)

        def small():
            for i in range(commits):
                db.execute("INSERT INTO t(k, payload) VALUES (?, ?)", (i, "x" * 100))

        self.measure("commits", commits, small)
        db.close()

        ids = lookup_ids(lookups, rows)
        query = "SELECT payload FROM t WHERE id = ?"
        vfs = self.vfs()
        holder = {}

        def cold():
            holder["db"] = apsw.Connection(prefix, vfs=vfs.name)
            for i in ids:
                holder["db"].execute(query, (i,)).fetchall()

        self.measure("cold", lookups, cold)
        db = holder["db"]

        def warm():
            for i in ids:
                db.execute(query, (i,)).fetchall()

        self.measure("warm", lookups, warm)
        db.execute("PRAGMA locking_mode = EXCLUSIVE")
        db.execute(query, (ids[0],)).fetchall()
        self.measure("exclusive", lookups, warm)
        db.close()

        vfs = self.vfs()

        def scan():
            conn = apsw.Connection(prefix, vfs=vfs.name)
            total = conn.execute("SELECT sum(length(payload)) FROM t").fetchall()[0][0]
            conn.close()
            return {"check": total}

        self.measure("scan", 1, scan)

    def transfer(self):
        cfg = self.cfg
        prefix = cfg["prefix"] + "/big.db"
        size = cfg["transferBytes"]
        vfs = self.vfs()

        def deserialize():
            with open(cfg["transferFile"], "rb") as f:
                vfs.deserialize_iter(prefix, iter(lambda: f.read(1 << 16), b""))

        self.measure("deserialize", size, deserialize, bytes=size)

        def serialize():
            n = 0
            for chunk in vfs.serialize_iter(prefix):
                n += len(chunk)
            if n != size:
                raise RuntimeError(f"serialize returned {n} bytes, expected {size}")
            return {"check": n}

        self.measure("serialize", size, serialize, bytes=size)


def main():
    cfg = json.loads(sys.argv[1])
    peer = Peer(cfg)
    if "sql" in cfg["parts"]:
        peer.sql()
    if "transfer" in cfg["parts"]:
        peer.transfer()
    versions = {
        "python": sys.version.split()[0],
        "apsw": apsw.apswversion(),
        "sqlite": apsw.sqlitelibversion(),
        "boto3": boto3.__version__,
    }
    try:
        from importlib.metadata import version

        versions["sqlite-s3vfs"] = version("sqlite-s3vfs")
    except Exception:  # noqa: BLE001
        versions["sqlite-s3vfs"] = "?"
    print(json.dumps({"results": peer.results, "versions": versions}))


if __name__ == "__main__":
    main()
