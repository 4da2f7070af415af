/**
 * The README's main job as a user script (import the package from `pkg`,
 * write, read, stream a backup and back through @db/sqlite), for the tests
 * that import the package the ways users do: from JSR (tests/jsr_import_test.ts)
 * and from a checkout by `file:` URL (tests/checkout_import_test.ts).
 *
 * @module
 */

import { DB_SQLITE_URL } from "../scripts/db_sqlite.ts";

/** The script's source; `close`: whether it ends with `vfs.close()`. */
export function userScript(pkg: string, bucket: string, close: boolean): string {
  return `import { Database } from ${JSON.stringify(DB_SQLITE_URL)};
import { OPEN_READONLY, OPEN_READWRITE, S3VFS } from ${JSON.stringify(pkg)};

const vfs = new S3VFS({ bucket: ${JSON.stringify(bucket)} });
const db = new Database(vfs.uri("my/path/cool.sqlite"), { flags: OPEN_READWRITE });
db.exec("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT)");
db.exec("INSERT INTO notes (body) VALUES (?)", "stored in S3");
console.log("rows", JSON.stringify(db.prepare("SELECT count(*) AS n FROM notes").get()));
db.close();
await vfs.serializeToFile("my/path/cool.sqlite", "backup.sqlite");
console.log("backup bytes", (await Deno.stat("backup.sqlite")).size);
await vfs.deserializeFromFile("my/path/copy.sqlite", "backup.sqlite");
const copy = new Database(vfs.uri("my/path/copy.sqlite"), { flags: OPEN_READONLY });
console.log("copy", JSON.stringify(copy.prepare("SELECT body FROM notes").all()));
copy.close();
console.log("requests", vfs.stats().requests.total);
${close ? "vfs.close();\n" : ""}console.log("done");
`;
}
