// Wire schemas of /v1/maintenance (spec §3-4). Request and response schemas are separate.
import { Type, type Static } from 'typebox';
import { INSTANCE_ACTIONS, PLUGIN_TYPES } from '../../domain/states.js';
import { DETAIL_LISTS, DETAIL_PAGE } from '../../ports/detail-reads.js';
import { NOT_ACCEPTED_CODES } from '../../services/projects.js';

const lit = <T extends string>(xs: readonly T[]) => Type.Union(xs.map((x) => Type.Literal(x)));

export const CreateSessionBody = Type.Object(
  {
    hosts: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 255 }), { maxItems: 10_000 })),
    state: Type.Optional(Type.String()),
    maintenance_at: Type.Optional(Type.String({ maxLength: 64 })),
    metadata: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    workflow: Type.Optional(Type.String()),
    actions: Type.Optional(
      Type.Array(
        Type.Object({
          plugin: Type.String({ minLength: 1, maxLength: 255 }),
          type: lit(PLUGIN_TYPES),
          metadata: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
          order: Type.Optional(Type.Integer({ minimum: -1_000_000, maximum: 1_000_000 })),
        }),
        { maxItems: 1000 },
      ),
    ),
    download: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    // Project extensions (docs/api.md).
    reply_window: Type.Optional(Type.Integer({ minimum: 1, maximum: 86_400 })),
    scale_in_reply_window: Type.Optional(Type.Integer({ minimum: 1, maximum: 86_400 })),
    own_action_timeout: Type.Optional(Type.Integer({ minimum: 1, maximum: 86_400 })),
    no_subscription: Type.Optional(lit(['act', 'fail'] as const)),
    max_parallel_hosts: Type.Optional(Type.Integer({ minimum: 0 })),
    estimates: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    max_failed_hosts: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000 })),
    /** Checked by the service (domain/windows.ts), so its messages say what is wrong. */
    windows: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: true },
);
export type CreateSessionBody = Static<typeof CreateSessionBody>;

export const SessionView = Type.Object(
  {
    session_id: Type.String(),
    state: Type.String(),
    workflow: Type.String(),
    maintenance_at: Type.String(),
    percent_done: Type.Integer(),
    paused: Type.Boolean(),
    reason: Type.Union([Type.String(), Type.Null()]),
    metadata: Type.Record(Type.String(), Type.Unknown()),
    created_at: Type.String(),
    updated_at: Type.String(),
  },
  { additionalProperties: true },
);

export const SessionList = Type.Object({ sessions: Type.Array(Type.String()) });

export const UpdateSessionBody = Type.Object(
  { state: Type.Optional(Type.String()), action: Type.Optional(Type.String()) },
  { additionalProperties: true },
);

/** Replies are validated by the service, so the codes are ours (INVALID_REPLY_STATE, ...), not AJV's. */
export const ReplyBody = Type.Object(
  {
    state: Type.Optional(Type.Unknown({ description: 'ACK_<STATE> or NACK_<STATE> (required; 400 INVALID_REPLY_STATE otherwise)' })),
    instance_actions: Type.Optional(Type.Unknown({ description: 'instance id → MIGRATE | LIVE_MIGRATE | OWN_ACTION | EVICTION' })),
    instance_action: Type.Optional(Type.Unknown({ description: 'one action for the instance of the URL, the instance_ids listed, or all concerned' })),
    instance_ids: Type.Optional(Type.Unknown({ description: 'the instances instance_action is for' })),
    session_id: Type.Optional(Type.Unknown({ description: 'ignored' })),
  },
  { additionalProperties: true },
);

export const InstanceIdsView = Type.Object({ instance_ids: Type.Array(Type.String()) });
/** 200 for any well-formed reply (spec §4); one without effect says why and what is awaited (services/projects.ts). */
export const ReplyAccepted = Type.Object(
  {
    accepted: Type.Boolean(),
    reason_code: Type.Optional(Type.Enum(NOT_ACCEPTED_CODES)),
    reason: Type.Optional(Type.String()),
    expected: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  },
  { additionalProperties: true },
);

export const InstanceActionNames = lit(INSTANCE_ACTIONS);

/** An opaque page cursor (services/detail.ts encodeCursor): base64url text. */
const Cursor = Type.String({ minLength: 1, maxLength: 2048, pattern: '^[A-Za-z0-9_-]+$' });
const LIST_NAME = `(${DETAIL_LISTS.join('|')})`;

/** GET /v1/maintenance/{id}/detail: page size, which lists, and a cursor per list (docs/api.md). */
export const DetailQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: DETAIL_PAGE.max })),
    /** Comma-separated; empty: no list (the session and what it waits for only). */
    lists: Type.Optional(Type.String({ maxLength: 200, pattern: `^(${LIST_NAME}(,${LIST_NAME})*)?$` })),
    hosts_after: Type.Optional(Cursor),
    projects_after: Type.Optional(Cursor),
    instances_after: Type.Optional(Cursor),
    plugin_runs_after: Type.Optional(Cursor),
    operations_after: Type.Optional(Cursor),
    deliveries_after: Type.Optional(Cursor),
    timeline_after: Type.Optional(Cursor),
    replies_after: Type.Optional(Cursor),
  },
  { additionalProperties: true },
);

/** PUT /v1/maintenance/{session_id}/{host}/{plugin}: an external job's report (Fenix 2020's plug-in callback). */
export const PluginCallbackBody = Type.Object(
  {
    state: Type.Optional(Type.Unknown()),
    output: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: true },
);
