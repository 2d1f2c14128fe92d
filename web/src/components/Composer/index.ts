export { Composer, type ComposerRestore } from './Composer';
