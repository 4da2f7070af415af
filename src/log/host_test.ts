import { equal } from "node:assert/strict";

/** localHost() in a process with only `flags`, HOSTNAME unset. */
async function hostWith(flags: string[]): Promise<string> {
  const url = new URL("./host.ts", import.meta.url).href;
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/h.ts`,
      `import { localHost } from ${
        JSON.stringify(url)
      };\nconsole.log(JSON.stringify(localHost()));\n`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", ...flags, `${dir}/h.ts`],
      env: { HOSTNAME: "" },
      stdout: "piped",
    }).output();
    return JSON.parse(new TextDecoder().decode(out.stdout));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("localHost() names the host with the VFS's own flags (no --allow-sys), never prompts", async () => {
  const name = Deno.hostname();
  equal(await hostWith(["--allow-ffi", "--allow-env"]), name, "through gethostname");
  equal(await hostWith(["--allow-sys=hostname"]), name);
  equal(await hostWith(["--allow-env=PATH"]), "", "nothing allowed: empty");
});
