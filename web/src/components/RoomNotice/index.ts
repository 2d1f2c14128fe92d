export { RoomNoticeItem } from './RoomNotice';
