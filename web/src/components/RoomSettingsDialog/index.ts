export { RoomSettingsDialog } from './RoomSettingsDialog';
