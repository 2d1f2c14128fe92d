export { Dialog, focusablesIn } from './Dialog';
