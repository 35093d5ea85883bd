// Schemas shared by every resource.
import { Type } from 'typebox';

export const ErrorSchema = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Unknown()) }),
});
export const SessionIdParams = Type.Object({ session_id: Type.String({ minLength: 1, maxLength: 64 }) });
export const ProjectParams = Type.Object({
  session_id: Type.String({ minLength: 1, maxLength: 64 }),
  project_id: Type.String({ minLength: 1, maxLength: 255 }),
});
export const InstanceParams = Type.Object({
  session_id: Type.String({ minLength: 1, maxLength: 64 }),
  project_id: Type.String({ minLength: 1, maxLength: 255 }),
  instance_id: Type.String({ minLength: 1, maxLength: 255 }),
});
