export { MessageEditor } from './MessageEditor';
