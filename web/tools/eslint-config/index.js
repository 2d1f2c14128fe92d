// Re-exported so that typescript-eslint resolves the `typescript` installed
// beside it (5.9, which has the compiler API), not the app's TypeScript 7.
export { default } from 'typescript-eslint';
