/**
 * Unit tests of the struct tables (src/ffi/layout.ts) against the C
 * declarations of `sqlite3_vfs` and `sqlite3_io_methods`: the field order
 * gives the offsets (LP64: int 4 bytes, pointers 8), each function pointer's
 * C parameter and result types give its `Deno.UnsafeCallback` definition.
 * The declarations come from the system sqlite3.h when it is installed and
 * from the copy below (sqlite3.h of SQLite 3.40.1) always; no compiler, no
 * library needed. tests/ffi_test.ts checks the same tables against the live
 * default VFS.
 */

import assert from "node:assert/strict";
import {
  IO_METHODS,
  IO_METHODS_OFFSETS,
  SIZEOF_IO_METHODS_V1,
  SIZEOF_IO_METHODS_V2,
  SIZEOF_IO_METHODS_V3,
  SIZEOF_VFS_V1,
  SIZEOF_VFS_V2,
  SIZEOF_VFS_V3,
  VFS_METHODS,
  VFS_OFFSETS,
} from "./layout.ts";

/** The two structs as sqlite3.h 3.40.1 declares them. */
const SQLITE3_H = `
struct sqlite3_vfs {
  int iVersion;            /* Structure version number (currently 3) */
  int szOsFile;            /* Size of subclassed sqlite3_file */
  int mxPathname;          /* Maximum file pathname length */
  sqlite3_vfs *pNext;      /* Next registered VFS */
  const char *zName;       /* Name of this virtual file system */
  void *pAppData;          /* Pointer to application-specific data */
  int (*xOpen)(sqlite3_vfs*, sqlite3_filename zName, sqlite3_file*,
               int flags, int *pOutFlags);
  int (*xDelete)(sqlite3_vfs*, const char *zName, int syncDir);
  int (*xAccess)(sqlite3_vfs*, const char *zName, int flags, int *pResOut);
  int (*xFullPathname)(sqlite3_vfs*, const char *zName, int nOut, char *zOut);
  void *(*xDlOpen)(sqlite3_vfs*, const char *zFilename);
  void (*xDlError)(sqlite3_vfs*, int nByte, char *zErrMsg);
  void (*(*xDlSym)(sqlite3_vfs*,void*, const char *zSymbol))(void);
  void (*xDlClose)(sqlite3_vfs*, void*);
  int (*xRandomness)(sqlite3_vfs*, int nByte, char *zOut);
  int (*xSleep)(sqlite3_vfs*, int microseconds);
  int (*xCurrentTime)(sqlite3_vfs*, double*);
  int (*xGetLastError)(sqlite3_vfs*, int, char *);
  /*
  ** The methods above are in version 1 of the sqlite_vfs object
  ** definition.  Those that follow are added in version 2 or later
  */
  int (*xCurrentTimeInt64)(sqlite3_vfs*, sqlite3_int64*);
  /*
  ** The methods above are in versions 1 and 2 of the sqlite_vfs object.
  ** Those below are for version 3 and greater.
  */
  int (*xSetSystemCall)(sqlite3_vfs*, const char *zName, sqlite3_syscall_ptr);
  sqlite3_syscall_ptr (*xGetSystemCall)(sqlite3_vfs*, const char *zName);
  const char *(*xNextSystemCall)(sqlite3_vfs*, const char *zName);
  /*
  ** The methods above are in versions 1 through 3 of the sqlite_vfs object.
  ** New fields may be appended in future versions.  The iVersion
  ** value will increment whenever this happens.
  */
};
struct sqlite3_io_methods {
  int iVersion;
  int (*xClose)(sqlite3_file*);
  int (*xRead)(sqlite3_file*, void*, int iAmt, sqlite3_int64 iOfst);
  int (*xWrite)(sqlite3_file*, const void*, int iAmt, sqlite3_int64 iOfst);
  int (*xTruncate)(sqlite3_file*, sqlite3_int64 size);
  int (*xSync)(sqlite3_file*, int flags);
  int (*xFileSize)(sqlite3_file*, sqlite3_int64 *pSize);
  int (*xLock)(sqlite3_file*, int);
  int (*xUnlock)(sqlite3_file*, int);
  int (*xCheckReservedLock)(sqlite3_file*, int *pResOut);
  int (*xFileControl)(sqlite3_file*, int op, void *pArg);
  int (*xSectorSize)(sqlite3_file*);
  int (*xDeviceCharacteristics)(sqlite3_file*);
  /* Methods above are valid for version 1 */
  int (*xShmMap)(sqlite3_file*, int iPg, int pgsz, int, void volatile**);
  int (*xShmLock)(sqlite3_file*, int offset, int n, int flags);
  void (*xShmBarrier)(sqlite3_file*);
  int (*xShmUnmap)(sqlite3_file*, int deleteFlag);
  /* Methods above are valid for version 2 */
  int (*xFetch)(sqlite3_file*, sqlite3_int64 iOfst, int iAmt, void **pp);
  int (*xUnfetch)(sqlite3_file*, sqlite3_int64 iOfst, void *p);
  /* Methods above are valid for version 3 */
  /* Additional methods may be added in future releases */
};
`;

interface Field {
  name: string;
  offset: number;
  /** For function pointers: the FFI types of the C prototype. */
  fn?: { parameters: string[]; result: string };
}

/** The FFI type of a C type in a prototype. */
function ffiType(c: string): string {
  const t = c.replace(/\b(const|volatile)\b/g, "").replace(/\b\w+$/, (w) =>
    // Drop a parameter name (but not a lone type name).
    /^(int|void|double|sqlite3_int64|sqlite3_filename|sqlite3_syscall_ptr)$/.test(w) ? w : "")
    .trim();
  if (t.includes("*") || t === "sqlite3_filename" || t === "sqlite3_syscall_ptr") return "pointer";
  if (t === "int") return "i32";
  if (t === "sqlite3_int64") return "i64";
  if (t === "double") return "f64";
  if (t === "void") return "void";
  throw new Error(`unmapped C type ${JSON.stringify(c)}`);
}

/** Fields of `struct name { ... }` in `header`, with LP64 offsets, and the struct size. */
function parseStruct(header: string, name: string): { fields: Field[]; size: number } {
  const body = new RegExp(`struct ${name} \\{([\\s\\S]*?)\\n\\};`).exec(header)?.[1];
  assert.ok(body, `struct ${name} found`);
  const fields: Field[] = [];
  let at = 0;
  for (const decl of body.replace(/\/\*[\s\S]*?\*\//g, "").split(";")) {
    const d = decl.replace(/\s+/g, " ").trim();
    if (!d) continue;
    const fp = /^(.*?)\(\*(?:\(\*)?(\w+)\)\((.*?)\)(\)\(void\))?$/.exec(d);
    let size: number;
    if (fp) {
      const [, ret, field, params, returnsFn] = fp;
      const result = returnsFn || ret.includes("(") ? "pointer" : ffiType(ret);
      fields.push({
        name: field,
        offset: 0,
        fn: { parameters: params.split(",").map(ffiType), result },
      });
      size = 8;
    } else {
      const m = /^(.*?)(\w+)$/.exec(d)!;
      fields.push({ name: m[2], offset: 0 });
      size = ffiType(m[1]) === "pointer" ? 8 : 4;
    }
    at = Math.ceil(at / size) * size;
    fields[fields.length - 1].offset = at;
    at += size;
  }
  return { fields, size: Math.ceil(at / 8) * 8 };
}

function headers(): [string, string][] {
  const out: [string, string][] = [["sqlite3.h 3.40.1 (copy)", SQLITE3_H]];
  for (const path of ["/usr/include/sqlite3.h", "/usr/local/include/sqlite3.h"]) {
    try {
      out.push([path, Deno.readTextFileSync(path)]);
      break;
    } catch { /* not installed (or no --allow-read): the copy is enough */ }
  }
  return out;
}

Deno.test("VFS_OFFSETS behaviour: every sqlite3_vfs field at its C offset", () => {
  for (const [source, h] of headers()) {
    const { fields, size } = parseStruct(h, "sqlite3_vfs");
    assert.deepEqual(
      Object.fromEntries(fields.map((f) => [f.name, f.offset])),
      VFS_OFFSETS,
      source,
    );
    assert.equal(SIZEOF_VFS_V3, size, source);
  }
  assert.deepEqual([SIZEOF_VFS_V1, SIZEOF_VFS_V2, SIZEOF_VFS_V3], [136, 144, 168]);
});

Deno.test("IO_METHODS_OFFSETS behaviour: every sqlite3_io_methods field at its C offset", () => {
  for (const [source, h] of headers()) {
    const { fields, size } = parseStruct(h, "sqlite3_io_methods");
    assert.deepEqual(
      Object.fromEntries(fields.map((f) => [f.name, f.offset])),
      IO_METHODS_OFFSETS,
      source,
    );
    assert.equal(SIZEOF_IO_METHODS_V3, size, source);
  }
  assert.deepEqual([SIZEOF_IO_METHODS_V1, SIZEOF_IO_METHODS_V2, SIZEOF_IO_METHODS_V3], [
    104,
    136,
    152,
  ]);
});

Deno.test("VFS_METHODS behaviour: each callback definition matches its C prototype", () => {
  for (const [source, h] of headers()) {
    const fns = parseStruct(h, "sqlite3_vfs").fields.filter((f) => f.fn);
    assert.deepEqual(fns.map((f) => f.name), Object.keys(VFS_METHODS), source);
    for (const f of fns) {
      const def = VFS_METHODS[f.name as keyof typeof VFS_METHODS];
      assert.deepEqual({ parameters: [...def.parameters], result: def.result }, f.fn, f.name);
    }
  }
});

Deno.test("IO_METHODS behaviour: each callback definition matches its C prototype", () => {
  for (const [source, h] of headers()) {
    const fns = parseStruct(h, "sqlite3_io_methods").fields.filter((f) => f.fn);
    assert.deepEqual(fns.map((f) => f.name), Object.keys(IO_METHODS), source);
    for (const f of fns) {
      const def = IO_METHODS[f.name as keyof typeof IO_METHODS];
      assert.deepEqual({ parameters: [...def.parameters], result: def.result }, f.fn, f.name);
    }
  }
});
