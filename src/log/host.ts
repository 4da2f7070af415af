/**
 * Who this process is, for the lease and claim records people read: the host
 * name (only when the permission is already granted: never a prompt) and the
 * process id.
 *
 * @module
 */

let hostName: string | undefined;

/** The host name, or "" without `--allow-sys=hostname`. */
export function localHost(): string {
  if (hostName === undefined) {
    hostName = "";
    try {
      // Only when already allowed: never prompt. Without it the pid and holder id still tell.
      if (Deno.permissions.querySync({ name: "sys", kind: "hostname" }).state === "granted") {
        hostName = Deno.hostname();
      }
    } catch { /* no permission API or no host name */ }
  }
  return hostName;
}

/** The process id (0 where the runtime has none). */
export function localPid(): number {
  try {
    return Deno.pid;
  } catch {
    return 0;
  }
}
