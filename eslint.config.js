// Lint config: typescript-eslint's recommended rules over the TypeScript sources.
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/**", "native/**", "node_modules/**"] },
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
    },
  },
);
