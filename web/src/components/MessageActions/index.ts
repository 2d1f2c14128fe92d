export { MessageActions } from './MessageActions';
