// Plug-ins known to this process, by name. Built-ins are registered by main/.
import type { ActionPlugin, PluginRegistry } from '../ports/action-plugin.js';

export class MapPluginRegistry implements PluginRegistry {
  private readonly byName = new Map<string, ActionPlugin>();
  constructor(plugins: ActionPlugin[] = []) {
    for (const p of plugins) this.byName.set(p.name, p);
  }
  register(p: ActionPlugin): void {
    this.byName.set(p.name, p);
  }
  get(name: string): ActionPlugin | undefined {
    return this.byName.get(name);
  }
  names(): string[] {
    return [...this.byName.keys()].sort();
  }
}
