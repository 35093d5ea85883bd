// Wire schemas of the planner: POST /v1/maintenance/plan (a session create body, nothing created)
// and GET /v1/maintenance/{id}/plan (the plan a session follows).
import { Type } from 'typebox';

export const PlanBody = Type.Object(
  {
    hosts: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 255 }), { maxItems: 10_000 })),
    maintenance_at: Type.Optional(Type.String({ maxLength: 64 })),
    workflow: Type.Optional(Type.String()),
    max_parallel_hosts: Type.Optional(Type.Integer({ minimum: 0 })),
    estimates: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    /** Checked by the service (domain/windows.ts). */
    windows: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: true },
);

export const PlanQuery = Type.Object({ moves: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])) }, { additionalProperties: true });
