export { NamePrompt } from './NamePrompt';
