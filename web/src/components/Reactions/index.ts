export { Reactions, reactedBy } from './Reactions';
