// `ssh`: runs a command on the host being maintained, `{"command": ["systemctl", "restart", "x"],
// "address": "{host}.mgmt.example.com", "port": 22}`, with OpenSSH's client. The user, the key and
// the known_hosts file come from the engine's configuration (--ssh-user, --ssh-key,
// --ssh-known-hosts), never from a session: an unknown or changed host key is refused, nothing is
// asked, no user ssh_config applies. The command is quoted word by word for the remote shell.
import { userInfo } from 'node:os';
import type { ActionPlugin, PluginContext, PluginResult } from '../ports/action-plugin.js';
import { argvError, envError, fenixEnv, firstError, intError, programEnv, stringError } from './metadata.js';
import { runProgram } from './shell.js';

export interface SshOptions {
  /** Remote user (default: the engine's own user, as ssh does). */
  user?: string | null;
  /** Private key file. */
  key?: string | null;
  /** known_hosts file: the only host keys accepted. */
  knownHosts?: string | null;
  /** Default port (22). */
  port?: number | null;
  /** The ssh client (default `ssh` on PATH). */
  ssh?: string;
}

export function sshPlugin(o: SshOptions): ActionPlugin {
  const configured = Boolean(o.key && o.knownHosts);
  return {
    name: 'ssh',
    description: 'runs a command on the host being maintained over ssh (--ssh-user, --ssh-key, --ssh-known-hosts): {"command": ["program", "arg"], "address": "{host}", "port": 22}',
    idempotent: true, // as the command is; one that is not says "idempotent": false
    validate(m, type) {
      if (!configured) return 'the ssh plug-in needs the engine started with --ssh-key and --ssh-known-hosts';
      if (type === 'pre' || type === 'post') return 'ssh runs on the host being maintained: use it in host, compute, controller or verify actions';
      return firstError(argvError(m.command), stringError(m.address, 'address'), intError(m.port, 'port', 1, 65535), envError(m.env));
    },
    async run(ctx: PluginContext): Promise<PluginResult> {
      if (!configured) return { ok: false, output: 'the ssh plug-in needs the engine started with --ssh-key and --ssh-known-hosts' };
      if (!ctx.host) return { ok: false, output: 'ssh runs on the host being maintained; this run has no host' };
      const m = ctx.metadata;
      const address = (typeof m.address === 'string' ? m.address : '{host}').split('{host}').join(ctx.host);
      const port = typeof m.port === 'number' ? m.port : (o.port ?? 22);
      // The remote side always hands the command line to the user's shell: each word is quoted so it
      // arrives as given; the variables go through env(1), quoted the same way.
      const vars = { ...((m.env ?? {}) as Record<string, string>), ...fenixEnv(ctx) };
      const remote = ['env', ...Object.entries(vars).map(([k, v]) => `${k}=${v}`), ...(m.command as string[])].map(shellQuote).join(' ');
      const args = [
        '-F', '/dev/null', // no user or system ssh_config can weaken what follows
        '-o', 'BatchMode=yes',
        '-o', 'StrictHostKeyChecking=yes',
        '-o', `UserKnownHostsFile="${o.knownHosts}"`,
        '-o', 'GlobalKnownHostsFile=/dev/null',
        '-o', 'UpdateHostKeys=no',
        '-o', 'IdentitiesOnly=yes',
        '-o', `IdentityFile="${o.key}"`,
        '-o', 'ConnectTimeout=30',
        '-o', 'ServerAliveInterval=15',
        '-o', 'ServerAliveCountMax=4',
        '-o', 'LogLevel=ERROR',
        // A terminal on the remote side: when the run is stopped and the connection drops, the
        // remote command gets SIGHUP instead of running on.
        '-tt',
        '-p', String(port),
        '-l', o.user ?? userInfo().username,
        '--', address, remote,
      ];
      const r = await runProgram(ctx, o.ssh ?? 'ssh', args, programEnv({ ...ctx, metadata: { ...m, env: {} } }), `ssh ${address}`);
      return { ...r, output: r.output.replace(/\r\n/g, '\n') };
    },
  };
}

/** One word for a POSIX shell: single-quoted, single quotes spelled '\''. */
export const shellQuote = (w: string): string => `'${w.replace(/'/g, `'\\''`)}'`;
