export { RoomSidebar } from './RoomSidebar';
