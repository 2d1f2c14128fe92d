export { CreateRoomDialog } from './CreateRoomDialog';
