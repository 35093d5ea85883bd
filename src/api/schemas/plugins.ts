// Wire schemas of /v1/plugins.
import { Type } from 'typebox';

export const PluginList = Type.Object({
  plugins: Type.Array(
    Type.Object({
      name: Type.String(),
      description: Type.String(),
      /** "built-in", or the file under --plugins-dir it came from. */
      source: Type.String(),
      /** null: decided per action (its metadata). */
      idempotent: Type.Union([Type.Boolean(), Type.Null()]),
    }),
  ),
});
