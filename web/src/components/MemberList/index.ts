export { MemberList } from './MemberList';
