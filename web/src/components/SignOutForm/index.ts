export { SignOutForm } from './SignOutForm';
