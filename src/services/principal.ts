// Who is calling: resolved by the API's authentication, checked by services.
import { FenixError } from '../domain/errors.js';

export type Principal = { role: 'admin' } | { role: 'project'; projectId: string };

export const isAdmin = (p: Principal): boolean => p.role === 'admin';

export function requireAdmin(p: Principal): void {
  if (p.role !== 'admin') throw new FenixError('FORBIDDEN', 'this needs an admin token');
}

/** Admins reach every project; a project token only its own. */
export function requireProject(p: Principal, projectId: string): void {
  if (p.role === 'admin') return;
  if (p.projectId !== projectId) throw new FenixError('FORBIDDEN', `this token belongs to project ${p.projectId}, not ${projectId}`);
}
