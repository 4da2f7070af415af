/**
 * Library discovery: finds and loads libsqlite3, preferring a copy that is
 * already loaded in this process (e.g. the one `@db/sqlite` uses) so a VFS
 * registers in the SAME copy. Re-exported by src/ffi/mod.ts.
 *
 * @module
 */

import { SQLITE_OK } from "./constants.ts";
import { pointerValue, readCString, type SqliteLib, SYMBOLS } from "./symbols.ts";

const byPath = new Map<string, SqliteLib>();
const byId = new Map<bigint, SqliteLib>();
/** Ids of copies this module loaded itself (not already mapped before our dlopen). */
const ourIds = new Set<bigint>();
/** Probe results for mapped files: library id, or null when not a libsqlite3. */
const probed = new Map<string, bigint | null>();

const SQLITE_NAME = /sqlite3[^/\\]*\.(so(\.\d+)*|dylib|dll)$/i;
/** @denosaurs/plug caches downloads as `<DENO_DIR>/plug/<proto>/<host>/<sha256>.<ext>`. */
const PLUG_NAME = /[/\\]plug[/\\].*[/\\][0-9a-f]{64}\.(so|dylib|dll)$/i;

const IDENTITY = {
  sqlite3_libversion: { parameters: [], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

function isPermissionError(e: unknown): boolean {
  return e instanceof Deno.errors.PermissionDenied || e instanceof Deno.errors.NotCapable;
}

let loaderModules: (() => string[]) | null | undefined;

/** Paths of every shared object loaded in this process, via the dynamic loader. */
function loaderModuleList(): string[] | null {
  if (loaderModules === undefined) {
    loaderModules = null;
    try {
      if (Deno.build.os === "linux") {
        const libc = Deno.dlopen("libc.so.6", {
          dl_iterate_phdr: { parameters: ["function", "pointer"], result: "i32" },
        });
        loaderModules = () => {
          const names: string[] = [];
          // struct dl_phdr_info { ElfW(Addr) dlpi_addr; const char *dlpi_name; ... }
          const cb = new Deno.UnsafeCallback(
            { parameters: ["pointer", "usize", "pointer"], result: "i32" } as const,
            (info) => {
              const name = info ? new Deno.UnsafePointerView(info).getPointer(8) : null;
              if (name) names.push(Deno.UnsafePointerView.getCString(name));
              return 0;
            },
          );
          try {
            libc.symbols.dl_iterate_phdr(cb.pointer, null);
          } finally {
            cb.close();
          }
          return names;
        };
      } else if (Deno.build.os === "darwin") {
        const sys = Deno.dlopen("/usr/lib/libSystem.B.dylib", {
          _dyld_image_count: { parameters: [], result: "u32" },
          _dyld_get_image_name: { parameters: ["u32"], result: "pointer" },
        });
        loaderModules = () => {
          const names: string[] = [];
          const n = sys.symbols._dyld_image_count();
          for (let i = 0; i < n; i++) {
            const p = sys.symbols._dyld_get_image_name(i);
            if (p) names.push(Deno.UnsafePointerView.getCString(p));
          }
          return names;
        };
      }
    } catch (e) {
      if (isPermissionError(e)) loaderModules = undefined;
    }
  }
  return loaderModules ? loaderModules() : null;
}

/** Mapped files from /proc/self/maps (Linux; Deno 2.9 requires --allow-all for it). */
function procMapsList(): string[] {
  if (Deno.build.os !== "linux") return [];
  try {
    const out: string[] = [];
    for (const line of Deno.readTextFileSync("/proc/self/maps").split("\n")) {
      const i = line.indexOf("/");
      if (i >= 0) out.push(line.slice(i));
    }
    return out;
  } catch {
    return [];
  }
}

/** Library id of an already-loaded file, or null when it is no libsqlite3. */
function probe(path: string): bigint | null {
  let id = probed.get(path);
  if (id !== undefined) return id;
  id = null;
  try {
    const lib = Deno.dlopen(path, IDENTITY);
    id = pointerValue(lib.symbols.sqlite3_libversion());
    lib.close();
  } catch (e) {
    if (isPermissionError(e)) throw e;
  }
  probed.set(path, id);
  return id;
}

/**
 * Copies of libsqlite3 currently loaded in this process (by anyone: this
 * module, `@db/sqlite`, ...), one path per distinct copy, in load order.
 * Empty where the loaded objects cannot be listed (Windows).
 */
export function loadedSqliteLibraries(): { path: string; id: bigint }[] {
  const names = loaderModuleList() ?? procMapsList();
  const seen = new Set<bigint>();
  const out: { path: string; id: bigint }[] = [];
  for (const name of new Set(names)) {
    if (!SQLITE_NAME.test(name) && !PLUG_NAME.test(name)) continue;
    const id = probe(name);
    if (id === null || seen.has(id)) continue;
    seen.add(id);
    out.push({ path: name, id });
  }
  return out;
}

function envPath(): string | undefined {
  try {
    return Deno.env.get("DENO_SQLITE_PATH") || undefined;
  } catch {
    return undefined; // no --allow-env
  }
}

function systemCandidates(): string[] {
  switch (Deno.build.os) {
    case "darwin":
      return [
        "/usr/lib/libsqlite3.dylib",
        "/opt/homebrew/opt/sqlite/lib/libsqlite3.dylib",
        "/usr/local/opt/sqlite/lib/libsqlite3.dylib",
        "libsqlite3.dylib",
      ];
    case "windows":
      return ["sqlite3.dll", "winsqlite3.dll"];
    default:
      return ["libsqlite3.so.0", "libsqlite3.so"];
  }
}

function openLibrary(path: string): SqliteLib {
  const cached = byPath.get(path);
  if (cached) return cached;
  const before = new Set(loadedSqliteLibraries().map((l) => l.id));
  const dl = Deno.dlopen(path, SYMBOLS);
  const id = pointerValue(dl.symbols.sqlite3_libversion());
  const existing = byId.get(id);
  if (existing) {
    dl.close(); // same copy already opened under another name
    byPath.set(path, existing);
    return existing;
  }
  const rc = dl.symbols.sqlite3_initialize();
  if (rc !== SQLITE_OK) {
    dl.close();
    throw new Error(`sqlite3_initialize() failed in ${path} (code ${rc})`);
  }
  let resolved = path;
  if (!/[/\\]/.test(path)) {
    // Found by a plain name: report the loader's path for it.
    resolved = loadedSqliteLibraries().find((l) => l.id === id)?.path ?? path;
  }
  const lib: SqliteLib = {
    path: resolved,
    symbols: dl.symbols,
    version: readCString(dl.symbols.sqlite3_libversion()),
    id,
  };
  if (!before.has(id)) ourIds.add(id);
  byId.set(id, lib);
  byPath.set(path, lib);
  byPath.set(resolved, lib);
  return lib;
}

function notFound(tried: string[]): Error {
  const hint = Deno.build.os === "linux"
    ? "install it (Debian/Ubuntu: `apt-get install libsqlite3-0`; Fedora: `dnf install sqlite-libs`; Alpine: `apk add sqlite-libs`)"
    : Deno.build.os === "darwin"
    ? "install it (`brew install sqlite`)"
    : "put sqlite3.dll on the PATH";
  return new Error(
    `Could not load libsqlite3 (tried: ${tried.join("; ")}). ` +
      `Either ${hint}, set DENO_SQLITE_PATH to the library file, or pass libraryPath.`,
  );
}

/**
 * The libsqlite3 to use, in this order:
 * 1. `explicit` (a `libraryPath` option);
 * 2. a libsqlite3 already loaded in this process (e.g. the copy `@db/sqlite`
 *    loaded, including its @denosaurs/plug download cache file), preferring a
 *    copy this module did not load itself, so a VFS registers in the SAME copy;
 * 3. env `DENO_SQLITE_PATH` (what `@db/sqlite` reads);
 * 4. the system library (Linux `libsqlite3.so.0` then `libsqlite3.so`; macOS
 *    `/usr/lib/libsqlite3.dylib` then Homebrew; Windows `sqlite3.dll`).
 *
 * Steps 1-3 return the path without loading it; step 4 loads (and caches) the
 * first system library that opens. Throws when nothing can be found.
 */
export function findLibraryPath(explicit?: string): string {
  if (explicit) return explicit;
  const loaded = loadedSqliteLibraries();
  const pick = loaded.find((l) => !ourIds.has(l.id)) ?? loaded[0];
  if (pick) return byId.get(pick.id)?.path ?? pick.path;
  const env = envPath();
  if (env) return env;
  const tried: string[] = [];
  for (const candidate of systemCandidates()) {
    try {
      return openLibrary(candidate).path;
    } catch (e) {
      if (isPermissionError(e)) throw e;
      tried.push(`${candidate}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  throw notFound(tried);
}

/**
 * Load libsqlite3 (see {@link findLibraryPath} for the search order), once per
 * loaded copy per process, and call `sqlite3_initialize()` on first load.
 */
export function loadSqlite(path?: string): SqliteLib {
  const found = findLibraryPath(path);
  try {
    return openLibrary(found);
  } catch (e) {
    if (isPermissionError(e)) throw e;
    throw notFound([`${found}: ${e instanceof Error ? e.message : String(e)}`]);
  }
}
