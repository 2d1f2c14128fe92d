export { PrincipalTag } from './PrincipalTag';
