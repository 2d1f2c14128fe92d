export { SignUpForm } from './SignUpForm';
