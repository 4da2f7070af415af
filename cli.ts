/**
 * The `s3vfs` command-line tool: import, export, copy, list, inspect, query,
 * check, checkpoint and restore SQLite databases stored in S3.
 *
 * ```sh
 * deno run -A jsr:@s3vfs/sqlite/cli --help
 * deno install -g -A -n s3vfs jsr:@s3vfs/sqlite/cli   # then: s3vfs ls s3://bucket
 * ```
 *
 * The commands live in `src/cli/` (one concept per file). Dependencies, and
 * why:
 * - arguments: `node:util` `parseArgs`, built into Deno (strict parsing,
 *   short and long options, `--opt=value`), so nothing to download or keep
 *   up to date for the part every command uses;
 * - tables: `cli-table3` (npm; the maintained fork of `cli-table`, bundled
 *   types, measures wide characters), for `query`, `ls`, `info`, `history`;
 * - progress: `cli-progress` (npm; widely used, draws on any stream, rate and
 *   ETA tokens), for `import`, `export` and `cp` on a terminal;
 * - SQL: `@db/sqlite` from JSR (`jsr:@db/sqlite@0.13`), loaded on first use
 *   by a computed specifier (see `src/cli/sqlite.ts`), so library users who
 *   import `@s3vfs/sqlite` never download it and machines without JSR can
 *   point `S3VFS_DB_SQLITE` at a copy.
 *
 * @module
 */

import { main } from "./src/cli/main.ts";

if (import.meta.main) Deno.exit(await main(Deno.args));
