// Operators' own plug-ins (--plugins-dir): every .js / .mjs file in the directory is an ES module
// exporting the ActionPlugin interface (ports/action-plugin.ts): a default export, a `plugin`
// export, or a `plugins` list. Loaded once at start; a file that does not load, or exports nothing
// usable, stops the start with a message naming it (a session would fail later, less clearly).
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ActionPlugin } from '../ports/action-plugin.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export async function loadPluginsDir(dir: string): Promise<{ plugin: ActionPlugin; file: string }[]> {
  const root = resolve(dir);
  let names: string[];
  try {
    names = (await readdir(root)).filter((f) => f.endsWith('.js') || f.endsWith('.mjs')).sort();
  } catch (e) {
    throw new Error(`--plugins-dir ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const out: { plugin: ActionPlugin; file: string }[] = [];
  for (const name of names) {
    const file = join(root, name);
    let mod: Record<string, unknown>;
    try {
      mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    } catch (e) {
      throw new Error(`plug-in ${file} does not load: ${(e as Error).message}`);
    }
    const found = [mod.default, mod.plugin, ...(Array.isArray(mod.plugins) ? mod.plugins : [])].filter((x) => x !== undefined);
    if (!found.length) throw new Error(`plug-in ${file} exports no plug-in (export default { name, run }, or export const plugin / plugins)`);
    for (const p of found) {
      const problem = shapeError(p);
      if (problem) throw new Error(`plug-in ${file}: ${problem}`);
      out.push({ plugin: p as ActionPlugin, file });
    }
  }
  return out;
}

function shapeError(p: unknown): string | null {
  if (typeof p !== 'object' || p === null) return 'an export is not an object with name and run';
  const o = p as Record<string, unknown>;
  if (typeof o.name !== 'string' || !NAME.test(o.name)) return `name ${JSON.stringify(o.name)} must be letters, digits, _ . - (at most 64, a letter or digit first)`;
  if (typeof o.run !== 'function') return `${o.name}: run(ctx) must be a function`;
  if (o.validate !== undefined && typeof o.validate !== 'function') return `${o.name}: validate must be a function`;
  if (o.idempotent !== undefined && typeof o.idempotent !== 'boolean' && typeof o.idempotent !== 'function') return `${o.name}: idempotent must be a boolean or a function`;
  if (o.defaultTimeoutS !== undefined && !(typeof o.defaultTimeoutS === 'number' && o.defaultTimeoutS > 0)) return `${o.name}: defaultTimeoutS must be a number of seconds`;
  return null;
}
