// Wire schemas of the constraints API (spec §5): /v1/instance and /v1/instance_group.
// Unknown keys are accepted and ignored (clients send more than they need); migration_type is
// checked by the service so a wrong action (e.g. MIGRATION) gets a message that names the right ones.
import { Type, type Static } from 'typebox';

const Id = Type.String({ minLength: 1, maxLength: 255 });
const OptStr = Type.Optional(Type.Union([Type.String({ maxLength: 255 }), Type.Null()]));
const Seconds = Type.Optional(Type.Union([Type.Number({ minimum: 0, maximum: 31_536_000 }), Type.Null()]));
const Count = Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 100_000 }), Type.Null()]));
const Flag = Type.Optional(Type.Union([Type.Boolean(), Type.Null()]));

export const InstanceIdParams = Type.Object({ instance_id: Id });
export const GroupIdParams = Type.Object({ group_id: Id });
export const ProjectQuery = Type.Object({ project_id: Type.Optional(Id) }, { additionalProperties: true });

export const PutInstanceBody = Type.Object(
  {
    instance_id: Type.Optional(Id),
    project_id: Type.Optional(Id),
    group_id: Type.Optional(Type.Union([Id, Type.Null()])),
    instance_name: OptStr,
    max_interruption_time: Seconds,
    migration_type: Type.Optional(Type.Unknown()),
    resource_mitigation: Flag,
    lead_time: Seconds,
  },
  { additionalProperties: true },
);
export type PutInstanceBody = Static<typeof PutInstanceBody>;

export const PutGroupBody = Type.Object(
  {
    group_id: Type.Optional(Id),
    project_id: Type.Optional(Id),
    group_name: OptStr,
    anti_affinity_group: Flag,
    max_instances_per_host: Count,
    max_impacted_members: Count,
    recovery_time: Seconds,
    resource_mitigation: Flag,
  },
  { additionalProperties: true },
);
export type PutGroupBody = Static<typeof PutGroupBody>;

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const InstanceConstraintView = Type.Object({
  instance_id: Type.String(),
  project_id: Type.String(),
  group_id: Nullable(Type.String()),
  instance_name: Nullable(Type.String()),
  max_interruption_time: Nullable(Type.Number()),
  migration_type: Nullable(Type.String()),
  resource_mitigation: Nullable(Type.Boolean()),
  lead_time: Nullable(Type.Number()),
  created_at: Type.String(),
  updated_at: Type.String(),
});

export const GroupConstraintView = Type.Object({
  group_id: Type.String(),
  project_id: Type.String(),
  group_name: Nullable(Type.String()),
  anti_affinity_group: Nullable(Type.Boolean()),
  max_instances_per_host: Nullable(Type.Integer()),
  max_impacted_members: Nullable(Type.Integer()),
  recovery_time: Nullable(Type.Number()),
  resource_mitigation: Nullable(Type.Boolean()),
  created_at: Type.String(),
  updated_at: Type.String(),
});

export const InstanceConstraintList = Type.Object({ instances: Type.Array(InstanceConstraintView) });
export const GroupConstraintList = Type.Object({ instance_groups: Type.Array(GroupConstraintView) });
export const Deleted = Type.Object({ deleted: Type.Boolean() });
