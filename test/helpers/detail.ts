// A session's whole detail: GET …/detail answers a page of each long list; this reads every page
// the way `fenix session detail --all` does (src/cli/client.ts pageDetail), over real HTTP.
import { pageDetail } from '../../src/cli/client.js';
import { api } from './harness.js';

export async function wholeDetail(base: string, sid: string, token?: string): Promise<any> {
  const get = async (path: string): Promise<unknown> => {
    const r = await api(base, 'GET', path, undefined, token);
    if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  return pageDetail(get, sid, (await get(`/v1/maintenance/${encodeURIComponent(sid)}/detail`)) as Record<string, unknown>);
}
