export { ReplyQuote, ReplyingTo } from './ReplyQuote';
