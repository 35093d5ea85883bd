// Wire schemas of /v1/subscriptions.
import { Type } from 'typebox';
import { EVENT_TYPES } from '../../domain/states.js';

export const CreateSubscriptionBody = Type.Object({
  project_id: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 255 }), Type.Null()])),
  url: Type.String({ minLength: 1, maxLength: 2048 }),
  event_types: Type.Array(Type.Union(EVENT_TYPES.map((e) => Type.Literal(e))), { minItems: 1 }),
  format: Type.Optional(Type.Union([Type.Literal('aodh'), Type.Literal('json')])),
  secret: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
});

export const SubscriptionView = Type.Object({
  subscription_id: Type.String(),
  project_id: Type.Union([Type.String(), Type.Null()]),
  url: Type.String(),
  event_types: Type.Array(Type.String()),
  format: Type.String(),
  has_secret: Type.Boolean(),
  created_at: Type.String(),
  delivered: Type.Integer(),
});

export const SubscriptionIdParams = Type.Object({ subscription_id: Type.String({ minLength: 1, maxLength: 64 }) });
