// The built-in plug-ins and the operators' own (--plugins-dir), in one registry. docs/plugins.md.
import type { ActionPlugin } from '../ports/action-plugin.js';
import { ansiblePlugin } from './ansible.js';
import { dummyPlugin } from './dummy.js';
import { httpPlugin, type HttpPluginOptions } from './http.js';
import { loadPluginsDir } from './load.js';
import { MapPluginRegistry } from './registry.js';
import { shellPlugin } from './shell.js';
import { sshPlugin, type SshOptions } from './ssh.js';

export { MapPluginRegistry } from './registry.js';

export interface PluginOptions {
  http?: HttpPluginOptions;
  ssh?: SshOptions;
  /** Directory of ES modules, each exporting ActionPlugin(s) (--plugins-dir). */
  dir?: string | null;
}

export function builtinPlugins(o: PluginOptions = {}): ActionPlugin[] {
  return [dummyPlugin, shellPlugin, ansiblePlugin, httpPlugin(o.http), sshPlugin(o.ssh ?? {})];
}

/** Every plug-in this process knows: the built-ins, then --plugins-dir's (a name taken twice stops the start). */
export async function pluginRegistry(o: PluginOptions = {}): Promise<MapPluginRegistry> {
  const reg = new MapPluginRegistry(builtinPlugins(o));
  if (o.dir) for (const { plugin, file } of await loadPluginsDir(o.dir)) reg.register(plugin, file);
  return reg;
}
