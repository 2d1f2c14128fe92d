export { AuthForm } from './AuthForm';
