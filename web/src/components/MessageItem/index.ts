export { MessageItem } from './MessageItem';
