// `dummy`: does nothing but say what it would do; fails on request (metadata.fail: true, or the name
// of the host to fail on) so tests and operators can see how a failing plug-in stops a session.
import type { ActionPlugin, PluginContext, PluginResult } from '../ports/action-plugin.js';

export const dummyPlugin: ActionPlugin = {
  name: 'dummy',
  description: 'does nothing but say so; {"fail": true | "<host>"} makes it fail',
  idempotent: true,
  async run(ctx: PluginContext): Promise<PluginResult> {
    const where = ctx.host ? ` on ${ctx.host}` : '';
    const failOn = ctx.metadata.fail;
    if (failOn === true || (typeof failOn === 'string' && failOn === ctx.host))
      return { ok: false, output: `dummy ${ctx.type} plug-in failed${where} (metadata.fail)` };
    return { ok: true, output: `dummy ${ctx.type} plug-in ran${where} for session ${ctx.sessionId}` };
  },
};
