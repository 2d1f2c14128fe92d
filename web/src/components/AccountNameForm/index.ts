export { AccountNameForm } from './AccountNameForm';
