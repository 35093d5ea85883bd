// Live views for the dashboard (routes/events.ts): GET /v1/events and GET /v1/maintenance/{id}/events.
import { Type } from 'typebox';

export { SessionIdParams } from './common.js';

/** Both answer JSON (one view) unless the client asks for `text/event-stream`; query parameters are ignored. */
export const EventsQuery = Type.Object({}, { additionalProperties: true });

/** The live views are the read model's to grow: serialized as built, not filtered by a schema. */
export const LiveView = Type.Object({}, { additionalProperties: true });
