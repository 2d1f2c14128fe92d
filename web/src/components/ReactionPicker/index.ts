export { COMMON_EMOJI, ReactionPicker } from './ReactionPicker';
