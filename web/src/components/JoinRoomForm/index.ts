export { JoinRoomForm } from './JoinRoomForm';
