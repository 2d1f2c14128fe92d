export { MessageItem, type MessageHandlers } from './MessageItem';
