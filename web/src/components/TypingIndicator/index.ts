export { TypingIndicator, typingText } from './TypingIndicator';
