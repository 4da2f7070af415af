/**
 * Who this process is, for the lease and claim records people read: the host
 * name (from whatever is already allowed: never a prompt) and the process id.
 *
 * @module
 */

let hostName: string | undefined;

/** Whether `desc` is already granted (never a prompt). */
function granted(desc: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(desc).state === "granted";
  } catch {
    return false; // no permission API
  }
}

/**
 * The host name: `Deno.hostname()` with `--allow-sys=hostname`, else the
 * `HOSTNAME` variable (with `--allow-env`), else `/etc/hostname` (with read
 * access to it), else libc's `gethostname` (with `--allow-ffi`, which the VFS
 * needs anyway); "" when none is allowed. Never prompts.
 */
export function localHost(): string {
  if (hostName !== undefined) return hostName;
  hostName = "";
  try {
    if (granted({ name: "sys", kind: "hostname" })) hostName = Deno.hostname();
    else if (granted({ name: "env", variable: "HOSTNAME" })) {
      hostName = Deno.env.get("HOSTNAME") ?? "";
    }
    if (!hostName && granted({ name: "read", path: "/etc/hostname" })) {
      hostName = Deno.readTextFileSync("/etc/hostname").trim();
    }
    if (!hostName && granted({ name: "ffi" })) hostName = gethostname();
  } catch { /* no host name to be had */ }
  return hostName;
}

/** libc's gethostname(2) through FFI (the VFS has `--allow-ffi` anyway); "" if it fails. */
function gethostname(): string {
  const path = Deno.build.os === "darwin"
    ? "/usr/lib/libSystem.B.dylib"
    : Deno.build.os === "linux"
    ? "libc.so.6"
    : undefined;
  if (!path) return "";
  const lib = Deno.dlopen(path, {
    gethostname: { parameters: ["buffer", "usize"], result: "i32" }, // int gethostname(char*, size_t)
  });
  try {
    const buf = new Uint8Array(256);
    if (lib.symbols.gethostname(buf, BigInt(buf.length)) !== 0) return "";
    const end = buf.indexOf(0);
    return new TextDecoder().decode(buf.subarray(0, end < 0 ? buf.length : end));
  } finally {
    lib.close();
  }
}

/** The process id (0 where the runtime has none). */
export function localPid(): number {
  try {
    return Deno.pid;
  } catch {
    return 0;
  }
}
