// `shell`: runs a program on the engine's machine, `{"command": ["/path/to/script", "arg"], "env":
// {"K": "V"}, "timeout_s": 600}`. argv only: nothing goes through a shell. It runs in the session's
// work directory with the FENIX_* variables (docs/plugins.md); exit code 0 is success.
import { mkdir } from 'node:fs/promises';
import type { ActionPlugin, PluginContext, PluginResult } from '../ports/action-plugin.js';
import { argvError, envError, firstError, programEnv } from './metadata.js';
import { killStaleGroup, processResult, runProcess } from './process.js';

export const shellPlugin: ActionPlugin = {
  name: 'shell',
  description: 'runs a program on the engine\'s machine: {"command": ["/path/to/program", "arg"], "env": {"K": "V"}, "timeout_s": 600}',
  // Idempotent as far as the engine can tell; an operator's script that is not says "idempotent": false.
  idempotent: true,
  validate: (m) => firstError(argvError(m.command), envError(m.env)),
  async run(ctx: PluginContext): Promise<PluginResult> {
    const [command, ...args] = ctx.metadata.command as string[];
    return runProgram(ctx, command!, args, programEnv(ctx), 'the command');
  },
};

/**
 * Run a program for a plug-in: the previous attempt's group cleaned up first, this one's identity
 * saved with the run, in the work directory. Shared by shell, ansible and ssh.
 */
export async function runProgram(ctx: PluginContext, command: string, args: string[], env: Record<string, string>, what: string): Promise<PluginResult> {
  const stale = await killStaleGroup(ctx.savedState?.process);
  if (ctx.workDir) await mkdir(ctx.workDir, { recursive: true });
  const o = await runProcess({
    command,
    args,
    env,
    ...(ctx.workDir && { cwd: ctx.workDir }),
    signal: ctx.signal,
    onStart: (id) => (id ? ctx.saveState({ process: id }) : Promise.resolve()),
  });
  const r = processResult(o, what);
  return stale ? { ...r, output: `[${stale}]\n${r.output}` } : r;
}
