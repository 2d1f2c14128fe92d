export { MessageList, isContinuation } from './MessageList';
