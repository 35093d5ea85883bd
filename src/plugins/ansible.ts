// `ansible`: runs ansible-playbook for the host being maintained. `{"playbook": "site.yml",
// "inventory": "hosts.yml" | {inline inventory}, "extra_vars": {...}, "options": ["--tags", "x"]}`:
// relative paths are in the session's work directory (its downloads). --limit is the host; the
// session's metadata and the run's fenix_* facts go in as extra vars (a file, not the command line).
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ActionPlugin, PluginContext, PluginResult } from '../ports/action-plugin.js';
import { envError, firstError, objectError, programEnv, stringError } from './metadata.js';
import { runProgram } from './shell.js';

/** Options that would undo what the plug-in sets: the inventory, the limit, the extra vars file. */
const RESERVED = new Set(['-i', '--inventory', '--inventory-file', '-l', '--limit', '-e', '--extra-vars']);
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const ansiblePlugin: ActionPlugin = {
  name: 'ansible',
  description: 'runs ansible-playbook --limit <host>: {"playbook": "site.yml", "inventory": "hosts.yml" or {...}, "extra_vars": {...}, "options": [...]}',
  idempotent: true, // playbooks are meant to be; one that is not says "idempotent": false
  validate(m, type) {
    const inv = m.inventory;
    return firstError(
      stringError(m.playbook, 'playbook', false),
      typeof inv === 'string' ? stringError(inv, 'inventory') : inv !== undefined && typeof inv === 'object' && inv !== null && !Array.isArray(inv) ? null : 'inventory must be a path or an inline inventory object',
      objectError(m.extra_vars, 'extra_vars'),
      envError(m.env),
      optionsError(m.options),
      m.limit !== undefined && type !== 'pre' && type !== 'post' ? 'limit: a host action always runs with --limit <host>; limit is for pre and post actions' : stringError(m.limit, 'limit'),
    );
  },
  async run(ctx: PluginContext): Promise<PluginResult> {
    const m = ctx.metadata;
    const base = ctx.workDir ?? process.cwd();
    const dir = join(base, '.fenix-runs', safeName(ctx.runKey));
    await mkdir(join(dir, 'tmp'), { recursive: true });
    // A path (in the work directory when relative), ansible's "h1,h2," host list, or inline (written to a file).
    const inventory = typeof m.inventory !== 'string' ? join(dir, 'inventory.json') : m.inventory.includes(',') ? m.inventory : resolve(base, m.inventory);
    if (typeof m.inventory !== 'string') await writeFile(inventory, JSON.stringify(m.inventory));
    const vars = join(dir, 'extra-vars.json');
    await writeFile(vars, JSON.stringify(extraVars(ctx)));
    const limit = ctx.host ?? (typeof m.limit === 'string' ? m.limit : undefined);
    const args = ['-i', inventory, '-e', `@${vars}`, ...(limit ? ['--limit', limit] : []), ...((m.options as string[] | undefined) ?? []), resolve(base, m.playbook as string)];
    const env = programEnv(ctx, {
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_FORCE_COLOR: '0',
      ANSIBLE_RETRY_FILES_ENABLED: '0',
      // Never accept an unknown host key, whatever ansible.cfg says.
      ANSIBLE_HOST_KEY_CHECKING: 'True',
      // A host missing from the inventory is an error, not "no hosts matched" and exit code 0.
      ANSIBLE_HOST_PATTERN_MISMATCH: 'error',
      ANSIBLE_LOCAL_TEMP: join(dir, 'tmp'),
      PYTHONUNBUFFERED: '1',
    });
    return runProgram(ctx, 'ansible-playbook', args, env, 'ansible-playbook');
  },
};

/** Session metadata (names Ansible accepts, and all of it as fenix_session_metadata), extra_vars, the run's facts. */
function extraVars(ctx: PluginContext): Record<string, unknown> {
  const fromSession = Object.fromEntries(Object.entries(ctx.sessionMetadata).filter(([k]) => IDENTIFIER.test(k)));
  return {
    ...fromSession,
    ...((ctx.metadata.extra_vars as Record<string, unknown> | undefined) ?? {}),
    fenix_session_metadata: ctx.sessionMetadata,
    fenix_session_id: ctx.sessionId,
    fenix_host: ctx.host ?? null,
    fenix_plugin_type: ctx.type,
    fenix_attempt: ctx.attempt,
    fenix_work_dir: ctx.workDir ?? null,
  };
}

function optionsError(v: unknown): string | null {
  if (v === undefined) return null;
  if (!Array.isArray(v) || v.some((o) => typeof o !== 'string' || o.includes('\0'))) return 'options must be a list of strings (ansible-playbook arguments)';
  const bad = (v as string[]).find((o) => RESERVED.has(o.split('=')[0]!));
  return bad ? `options: ${bad} is set by the plug-in (inventory, limit, extra_vars are metadata fields)` : null;
}

export const safeName = (s: string): string => s.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 200);
