// Lint rules, including the import directions of docs/architecture.md:
// domain <- planner <- workflows; adapters implement ports and never import engine or each other;
// only main/ wires concrete things together.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const layer = (files, forbidden, message) => ({
  files,
  rules: {
    'no-restricted-imports': [
      'error',
      { patterns: forbidden.map((dir) => ({ group: [`**/${dir}/**`, `../${dir}/*`, `../../${dir}/*`], message })) },
    ],
  },
});

const ADAPTERS = ['store', 'drivers', 'notifier', 'plugins'];
const OUTER = ['engine', 'services', 'api', 'cli', 'main', 'web', ...ADAPTERS];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bin/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  // Tests read loosely typed JSON from HTTP answers.
  { files: ['test/**'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },
  layer(['src/domain/**'], ['planner', 'workflows', 'ports', 'config', ...OUTER], 'domain/ imports nothing'),
  layer(['src/planner/**'], ['workflows', 'ports', 'config', ...OUTER], 'planner/ imports only domain/'),
  layer(['src/workflows/**'], ['ports', 'config', ...OUTER], 'workflows/ import only domain/ and planner/'),
  layer(['src/ports/**'], OUTER, 'ports/ are interfaces over domain/'),
  layer(['src/store/**'], ['engine', 'services', 'api', 'cli', 'main', 'drivers', 'notifier', 'plugins'], 'adapters never import engine or each other'),
  layer(['src/drivers/**'], ['engine', 'services', 'api', 'cli', 'main', 'store', 'notifier', 'plugins'], 'adapters never import engine or each other'),
  layer(['src/notifier/**'], ['engine', 'services', 'api', 'cli', 'main', 'store', 'drivers', 'plugins'], 'adapters never import engine or each other'),
  layer(['src/plugins/**'], ['engine', 'services', 'api', 'cli', 'main', 'store', 'drivers', 'notifier'], 'adapters never import engine or each other'),
  layer(['src/engine/**'], ['api', 'cli', 'main', 'services', ...ADAPTERS], 'engine/ talks to adapters only through ports/'),
  layer(['src/services/**'], ['api', 'cli', 'main', 'engine', ...ADAPTERS], 'services/ use ports, not adapters'),
  layer(['src/api/**'], ['cli', 'main', 'engine', ...ADAPTERS], 'api/ calls services and read models'),
  layer(['src/cli/**'], ['engine', 'services', 'api', 'workflows', 'planner', ...ADAPTERS], 'cli/ speaks HTTP (main/ builds servers)'),
);
