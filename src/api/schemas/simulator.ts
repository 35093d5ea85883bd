// Wire schemas of the simulator control API (`/v1/simulator/*`).
import { Type, type Static } from 'typebox';

export const SimHostViewSchema = Type.Object({
  name: Type.String(),
  type: Type.Union([Type.Literal('compute'), Type.Literal('controller'), Type.Literal('other')]),
  vcpus: Type.Integer(),
  vcpus_used: Type.Integer(),
  enabled: Type.Boolean(),
});

export const SimHostsResponseSchema = Type.Object({ hosts: Type.Array(SimHostViewSchema) });

export const SimInstanceViewSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  project_id: Type.String(),
  host: Type.String(),
  vcpus: Type.Integer(),
});

export const SimInstancesResponseSchema = Type.Object({ instances: Type.Array(SimInstanceViewSchema) });

export const SimInstancesQuerySchema = Type.Object({ project_id: Type.Optional(Type.String({ minLength: 1 })) });

/** Unknown keys are ignored. */
export const SimCreateInstanceBodySchema = Type.Object({
  name: Type.String({ minLength: 1 }),
  project_id: Type.String({ minLength: 1 }),
  vcpus: Type.Integer({ minimum: 1 }),
});

export const SimInstanceIdParamsSchema = Type.Object({ id: Type.String({ minLength: 1 }) });

export const SimErrorSchema = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String() }),
});

export type SimHostViewBody = Static<typeof SimHostViewSchema>;
export type SimInstanceViewBody = Static<typeof SimInstanceViewSchema>;
export type SimCreateInstanceBody = Static<typeof SimCreateInstanceBodySchema>;
