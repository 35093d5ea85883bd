// /v1/subscriptions: where notifications go (spec §7). A project registers only for itself.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { redactUrl } from '../../domain/redact.js';
import type { Subscription } from '../../ports/transport.js';
import type { SubscriptionService } from '../../services/subscriptions.js';
import { ErrorSchema } from '../schemas/common.js';
import { CreateSubscriptionBody, SubscriptionIdParams, SubscriptionView } from '../schemas/subscriptions.js';
import { Type } from 'typebox';

const view = (s: Subscription) => ({
  subscription_id: s.id,
  project_id: s.projectId,
  // user:password in the URL become ***:*** (docs/security.md): answers and logs never carry them.
  url: redactUrl(s.url),
  event_types: s.eventTypes,
  format: s.format,
  has_secret: s.secret !== null,
  created_at: new Date(s.createdAt).toISOString(),
  delivered: s.delivered,
});

const PROJECT = { access: 'project' as const };
const errors = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema };

export async function subscriptionRoutes(app: FastifyInstance, deps: { subscriptions: SubscriptionService }): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.post('/v1/subscriptions', { config: PROJECT, schema: { body: CreateSubscriptionBody, response: { 201: SubscriptionView, ...errors } } }, async (req, reply) =>
    reply.code(201).send(view(await deps.subscriptions.create(req.principal, req.body))),
  );
  r.get('/v1/subscriptions', { config: PROJECT, schema: { response: { 200: Type.Object({ subscriptions: Type.Array(SubscriptionView) }), ...errors } } }, async (req) => ({
    subscriptions: (await deps.subscriptions.list(req.principal)).map(view),
  }));
  r.delete('/v1/subscriptions/:subscription_id', { config: PROJECT, schema: { params: SubscriptionIdParams, response: { 204: Type.Null(), ...errors } } }, async (req, reply) => {
    await deps.subscriptions.delete(req.principal, req.params.subscription_id);
    return reply.code(204).send(null);
  });
}
