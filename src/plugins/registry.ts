// Plug-ins known to this process, by name: the built-ins and those loaded from --plugins-dir.
// Registered by main/.
import type { ActionPlugin, PluginInfo, PluginRegistry } from '../ports/action-plugin.js';

export class MapPluginRegistry implements PluginRegistry {
  private readonly byName = new Map<string, { plugin: ActionPlugin; source: string }>();
  constructor(plugins: ActionPlugin[] = []) {
    for (const p of plugins) this.register(p);
  }
  /** A second plug-in of the same name is refused: which one a session meant would be a guess. */
  register(p: ActionPlugin, source = 'built-in'): void {
    const known = this.byName.get(p.name);
    if (known) throw new Error(`plug-in ${JSON.stringify(p.name)} of ${source} is already registered (${known.source})`);
    this.byName.set(p.name, { plugin: p, source });
  }
  get(name: string): ActionPlugin | undefined {
    return this.byName.get(name)?.plugin;
  }
  names(): string[] {
    return [...this.byName.keys()].sort();
  }
  list(): PluginInfo[] {
    return this.names().map((name) => {
      const { plugin, source } = this.byName.get(name)!;
      return {
        name,
        description: plugin.description ?? '',
        source,
        idempotent: typeof plugin.idempotent === 'function' ? null : (plugin.idempotent ?? true),
      };
    });
  }
}
