export { MessageText, MentionContext, type MentionScope } from './MessageText';
