export { RoomSidebar, groupRooms } from './RoomSidebar';
