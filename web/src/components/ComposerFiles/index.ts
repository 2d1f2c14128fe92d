export { ComposerFiles } from './ComposerFiles';
