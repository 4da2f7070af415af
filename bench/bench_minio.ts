/**
 * The benchmarks' MinIO: scripts/minio.ts with its data directory on tmpfs
 * (/dev/shm) when there is one, so the VM's disk fsyncs do not dominate every
 * PUT. `BENCH_MINIO_DISK=1` keeps it on disk; `S3_ENDPOINT` is honoured.
 *
 * @module
 */

import { type MinioServer, startMinio } from "../scripts/minio.ts";

/** Starts MinIO for a benchmark (quiet), on tmpfs when possible. */
export async function startBenchMinio(): Promise<MinioServer> {
  const useShm = !Deno.env.get("S3_ENDPOINT") && !Deno.env.get("BENCH_MINIO_DISK") &&
    (await Deno.stat("/dev/shm").then((s) => s.isDirectory, () => false));
  const oldTmp = Deno.env.get("TMPDIR");
  if (useShm) Deno.env.set("TMPDIR", "/dev/shm");
  try {
    return await startMinio({ quiet: true });
  } finally {
    if (useShm) oldTmp === undefined ? Deno.env.delete("TMPDIR") : Deno.env.set("TMPDIR", oldTmp);
  }
}
